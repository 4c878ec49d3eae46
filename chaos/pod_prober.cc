// The how of pod_prober.h. The socket is made inside the pod's namespace (setns there and
// back): a socket keeps the namespace it was made in, so afterwards it is used from ours.
#include "chaos/pod_prober.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "backends/udp/offload.h"

namespace shoal::chaos {
namespace {

Result<Fd> socket_in(const std::string& ns) {
  Fd own(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!own.valid()) return errno_status("open /proc/self/ns/net");
  const std::string path = "/run/netns/" + ns;
  Fd target(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!target.valid()) return errno_status("open " + path);
  if (::setns(target.get(), CLONE_NEWNET) != 0) return errno_status("setns " + ns);
  Fd sock(::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP));
  const int error = errno;
  // Back home before anything else: the rest of the program must not run in a pod.
  if (::setns(own.get(), CLONE_NEWNET) != 0) return errno_status("setns back");
  if (!sock.valid()) return errno_status("raw ICMP socket in " + ns, error);
  return sock;
}

}  // namespace

Result<PodProber> PodProber::open(std::vector<Pod> pods) {
  PodProber prober(std::move(pods));
  for (const Pod& pod : prober.pods_) {
    auto sock = socket_in(pod.ns);
    if (!sock.ok()) return sock.error();
    prober.sockets_.push_back(std::move(*sock));
  }
  const size_t n = prober.pods_.size();
  prober.answered_.assign(n, std::vector<bool>(n));
  prober.asked_.assign(n, std::vector<bool>(n));
  return prober;
}

PodProber::Round PodProber::tally() const {
  Round r;
  r.last_answer = last_answer_;
  for (size_t i = 0; i < pods_.size(); ++i)
    for (size_t k = 0; k < pods_.size(); ++k) {
      // A pod without an address does not exist yet, as far as its users can tell (a CNI
      // plugin makes it from the host's subnet): it is not counted either way.
      if (pods_[i].host == pods_[k].host || pods_[i].address.empty() || pods_[k].address.empty())
        continue;
      ++r.probed;
      if (asked_[i][k] && answered_[i][k]) {
        ++r.reached;
      } else if (r.first_miss.empty()) {
        r.first_miss = pods_[i].name + " -> " + pods_[k].name + " (" + pods_[k].address + ")";
      }
    }
  return r;
}

PodProber::Round PodProber::start_round() {
  Round done = in_flight_ ? tally() : Round{};
  ++round_;
  in_flight_ = true;
  for (auto& row : answered_) row.assign(row.size(), false);
  for (auto& row : asked_) row.assign(row.size(), false);
  for (size_t i = 0; i < pods_.size(); ++i) {
    if (pods_[i].address.empty()) continue;  // no address, no route: it reaches nobody
    for (size_t k = 0; k < pods_.size(); ++k) {
      if (pods_[i].host == pods_[k].host || pods_[k].address.empty()) continue;
      sockaddr_in to{};
      to.sin_family = AF_INET;
      if (::inet_pton(AF_INET, pods_[k].address.c_str(), &to.sin_addr) != 1) continue;
      // Echo request: type 8, id = the prober pod, sequence = the round; the payload says
      // which pod it was for, so one reply cannot be counted for another pair.
      uint8_t packet[12] = {8, 0, 0, 0};
      packet[4] = static_cast<uint8_t>(i >> 8), packet[5] = static_cast<uint8_t>(i);
      packet[6] = static_cast<uint8_t>(round_ >> 8), packet[7] = static_cast<uint8_t>(round_);
      const auto target = static_cast<uint32_t>(k);
      std::memcpy(packet + 8, &target, 4);
      const uint16_t sum = udp::internet_checksum(ByteView(packet, sizeof packet));
      packet[2] = static_cast<uint8_t>(sum >> 8), packet[3] = static_cast<uint8_t>(sum);
      asked_[i][k] = true;
      (void)::sendto(sockets_[i].get(), packet, sizeof packet, 0,
                     reinterpret_cast<const sockaddr*>(&to), sizeof to);
    }
  }
  return done;
}

void PodProber::poll(std::chrono::milliseconds wait) {
  std::vector<pollfd> fds;
  for (const Fd& socket : sockets_) fds.push_back({socket.get(), POLLIN, 0});
  if (fds.empty()) return;
  const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(wait.count()));
  if (ready <= 0) return;
  for (size_t i = 0; i < fds.size(); ++i) {
    if (!(fds[i].revents & POLLIN)) continue;
    for (int reads = 0; reads < 256; ++reads) {  // bounded: drain what is there now
      uint8_t buffer[256];
      const ssize_t n = ::recv(fds[i].fd, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      // A raw socket gives the IP header first; everything after it is checked before use.
      const size_t size = static_cast<size_t>(n);
      if (size < 20) continue;
      const size_t header = static_cast<size_t>(buffer[0] & 0x0f) * 4;
      if (header < 20 || size < header + 12) continue;
      const uint8_t* icmp = buffer + header;
      if (icmp[0] != 0 || icmp[1] != 0) continue;  // echo replies only
      const size_t id = static_cast<size_t>(icmp[4] << 8 | icmp[5]);
      const auto seq = static_cast<uint16_t>(icmp[6] << 8 | icmp[7]);
      uint32_t target = 0;
      std::memcpy(&target, icmp + 8, 4);
      if (id != i || seq != round_ || target >= pods_.size() || answered_[i][target]) continue;
      answered_[i][target] = true;
      last_answer_ = std::chrono::steady_clock::now();
    }
  }
}

}  // namespace shoal::chaos
