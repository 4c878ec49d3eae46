#include "backends/udp/tun.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/fd.h"

namespace shoal::udp {

namespace {

// Older kernel headers lack the UDP segmentation offloads (Linux 6.2).
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

Result<Fd> open_device(const std::string& name, short flags) {
  Fd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return errno_status("cannot open /dev/net/tun");
  ifreq request{};
  std::strncpy(request.ifr_name, name.c_str(), IFNAMSIZ - 1);
  request.ifr_flags = flags;
  if (::ioctl(fd.get(), TUNSETIFF, &request) < 0)
    return errno_status("cannot create TUN device " + name);
  return fd;
}

}  // namespace

std::string TunOffloads::describe() const {
  std::string out;
  if (checksum) out += "csum";
  if (tso) out += " tso4 tso6";
  if (uso) out += " uso4 uso6";
  return out.empty() ? "none" : out;
}

Result<OpenedTun> open_tun(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    return Status::invalid_argument("TUN device name '" + name + "' is not valid");
  auto opened = open_device(name, IFF_TUN | IFF_NO_PI | IFF_VNET_HDR);
  if (!opened) return opened.error();
  const int fd = opened->get();
  OpenedTun out{Fd(), name, {}};
  int header_size = 10;  // struct virtio_net_hdr, without the mergeable-buffers field
  if (::ioctl(fd, TUNSETVNETHDRSZ, &header_size) < 0)
    return errno_status("cannot set the virtio header size of " + name);
  // From the most to the least the kernel may accept: an older kernel refuses unknown bits.
  const struct {
    unsigned flags;
    TunOffloads offloads;
  } tries[] = {
      {TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6, {true, true, true}},
      {TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6, {true, true, false}},
      {TUN_F_CSUM, {true, false, false}},
      {0, {false, false, false}},
  };
  for (const auto& t : tries) {
    if (::ioctl(fd, TUNSETOFFLOAD, static_cast<unsigned long>(t.flags)) == 0) {
      out.offloads = t.offloads;
      break;
    }
  }
  if (::ioctl(fd, TUNSETPERSIST, 1) < 0)
    return errno_status("cannot make TUN device " + name + " persistent");
  out.fd = std::move(*opened);
  return out;
}

Status remove_tun(const std::string& name) {
  auto opened = open_device(name, IFF_TUN | IFF_NO_PI | IFF_VNET_HDR);
  if (!opened) return opened.error();
  Status removed;
  if (::ioctl(opened->get(), TUNSETPERSIST, 0) < 0)
    removed = errno_status("cannot remove TUN device " + name);
  return removed;  // not persistent any more: the last close (here, Fd's) deletes it
}

}  // namespace shoal::udp
