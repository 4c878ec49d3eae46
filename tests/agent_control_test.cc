#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <variant>

#include "agent/control_server.h"
#include "cli/control_client.h"
#include "protocol/control_codec.h"
#include "tests/temp_dir.h"

using namespace shoal;
using namespace shoal::agent;
using namespace shoal::protocol;
using shoal::test::TempDir;
using namespace std::chrono_literals;

namespace {

Bytes body_of(const google::protobuf::Message& message) {
  Bytes frame = encode_frame(message);
  return Bytes(frame.begin() + kFrameHeaderSize, frame.end());
}

proto::ControlRequest forget(const std::string& node) {
  proto::ControlRequest request;
  request.mutable_forget()->set_node(node);
  return request;
}

std::string refusal(const proto::ControlRequest& request) {
  auto decoded = decode_request(body_of(request));
  REQUIRE_FALSE(decoded);
  return decoded.error().to_string();
}

// A ControlServer whose io_context runs on its own thread, stopped and joined before the
// server goes (the destructor must not race the io thread).
struct RunningServer {
  boost::asio::io_context io;
  std::unique_ptr<ControlServer> server;
  std::thread thread;

  RunningServer(const std::string& path, ControlServer::Handler handler) {
    auto started = ControlServer::start(io, path, std::move(handler));
    if (!started) FAIL(started.error().to_string());
    server = std::move(started).value();
    thread = std::thread([this] { io.run(); });
  }
  ~RunningServer() {
    io.stop();
    thread.join();
    server.reset();
  }
};

proto::ControlResponse members_handler(const proto::ControlRequest& request,
                                       const ControlCaller& caller) {
  proto::ControlResponse response;
  if (request.has_status()) {
    // Says who the kernel says is asking (SO_PEERCRED).
    response.set_message(caller.known ? "uid " + std::to_string(caller.uid) : "unknown");
  } else if (request.has_members()) {
    auto* m = response.add_members();
    m->set_name("host-a");
    m->set_address("192.0.2.1:7946");
    m->set_state("alive");
    m->set_incarnation(3);
  } else if (request.has_forget()) {
    response.set_message("forgot " + request.forget().node());
  } else {
    response.set_error("not in this test");
  }
  return response;
}

// Sends raw bytes on a fresh connection and reads until the server closes (2 s at most).
std::string raw_exchange(const std::string& path, const Bytes& bytes) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
  (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  std::string received;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) received.append(buffer, n);
  ::close(fd);
  return received;
}

proto::ControlResponse decode_answer(const std::string& received) {
  FrameReader reader(kMaxControlResponse);
  reader.feed(as_bytes(received));
  auto body = reader.next();
  REQUIRE(body);
  auto response = decode_response(*body);
  REQUIRE(response);
  return *response;
}

// A socket file with nobody behind it, as a crashed agent leaves.
void make_stale_socket(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
  ::close(fd);
}

}  // namespace

TEST_CASE("control codec: every request survives a frame round trip") {
  std::vector<proto::ControlRequest> requests(9);
  requests[0].mutable_members();
  requests[1].mutable_leases();
  requests[2].mutable_status();
  requests[3].mutable_leave();
  requests[4] = forget("host-b");
  requests[5].mutable_keys_list();
  requests[6].mutable_key_install()->set_key("c2VjcmV0IGtleSBtYXRlcmlhbCBvZiAzMiBieXRlcyEh");
  requests[7].mutable_key_use()->set_key_id("0a1b2c3d");
  requests[8].mutable_key_remove()->set_key_id("DEADBEEF");

  FrameReader reader(kMaxControlRequest);
  for (const auto& request : requests) {
    const Bytes frame = encode_frame(request);
    for (uint8_t byte : frame) reader.feed(ByteView(&byte, 1));  // one byte at a time
  }
  for (const auto& request : requests) {
    auto body = reader.next();
    REQUIRE(body);
    auto decoded = decode_request(*body);
    REQUIRE(decoded);
    CHECK(decoded->SerializeAsString() == request.SerializeAsString());
  }
  CHECK_FALSE(reader.next());
  CHECK_FALSE(reader.mid_frame());
  CHECK(reader.error().ok());
}

TEST_CASE("control codec: frame header is a big-endian length") {
  proto::ControlRequest request = forget("h");
  const Bytes frame = encode_frame(request);
  REQUIRE(frame.size() == 4 + request.ByteSizeLong());
  CHECK(frame[0] == 0);
  CHECK(frame[1] == 0);
  CHECK(frame[2] == 0);
  CHECK(frame[3] == request.ByteSizeLong());
}

TEST_CASE("control codec: the reader refuses oversized frames and notices truncation") {
  FrameReader reader(kMaxControlRequest);
  const Bytes huge_header{0x00, 0x01, 0x00, 0x01};  // 65537 bytes
  reader.feed(huge_header);
  CHECK(reader.error().to_string() == "frame of 65537 bytes is over the limit of 65536");
  reader.feed(encode_frame(forget("h")));  // the error sticks
  CHECK_FALSE(reader.next());

  FrameReader exact(kMaxControlRequest);
  exact.feed(Bytes{0x00, 0x01, 0x00, 0x00});  // 65536 bytes: allowed
  CHECK(exact.error().ok());

  FrameReader cut(kMaxControlRequest);
  Bytes frame = encode_frame(forget("host-b"));
  frame.pop_back();
  cut.feed(frame);
  CHECK_FALSE(cut.next());
  CHECK(cut.mid_frame());
}

TEST_CASE("control codec: requests the agent cannot act on are refused with a reason") {
  CHECK(refusal(proto::ControlRequest()).find("unknown request") != std::string::npos);
  CHECK(refusal(forget("")) == "the node to forget is empty");
  CHECK(refusal(forget(std::string(257, 'a'))) ==
        "the node to forget is 257 bytes long; the limit is 256");
  CHECK(decode_request(body_of(forget(std::string(256, 'a')))));
  CHECK(refusal(forget("host\nb")) == "the node to forget contains control characters");
  CHECK(decode_request(body_of(forget("h\xc3\xb6st-\xe2\x82\xac"))));  // "höst-€"
  for (const char* bad : {"\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff"})
    CHECK(refusal(forget(std::string("h") + bad)) == "the node to forget is not valid UTF-8");

  proto::ControlRequest use;
  for (const char* bad : {"", "0a1b2c3", "0a1b2c3d4", "0a1b2c3g"}) {
    use.mutable_key_use()->set_key_id(bad);
    CHECK(refusal(use).find("8 hex digits") != std::string::npos);
  }
  proto::ControlRequest install;
  install.mutable_key_install();
  CHECK(refusal(install) == "the key to install is empty");

  proto::ControlRequest fault;
  auto* add = fault.mutable_fault_add();
  add->set_seconds(10);
  CHECK(refusal(fault) == "a fault needs at least one peer");
  add->add_peers("h2");
  CHECK(decode_request(body_of(fault)));
  add->set_seconds(0);
  CHECK(refusal(fault).find("1 to 3600 seconds") != std::string::npos);
  add->set_seconds(3601);
  CHECK(refusal(fault).find("1 to 3600 seconds") != std::string::npos);
  add->set_seconds(5);
  add->set_loss_percent(101);
  CHECK(refusal(fault) == "loss is a percentage: 1 to 100");
  add->set_loss_percent(25);
  add->set_inbound_only(true);
  add->set_outbound_only(true);
  CHECK(refusal(fault).find("not two") != std::string::npos);
  add->set_outbound_only(false);
  add->add_peers("h3\n");
  CHECK(refusal(fault) == "a fault's peer contains control characters");
  add->clear_peers();
  for (int i = 0; i < 65; ++i) add->add_peers("h" + std::to_string(i));
  CHECK(refusal(fault) == "a fault names at most 64 peers");

  proto::ControlRequest clock;
  auto* move = clock.mutable_fault_add();
  move->set_seconds(60);
  move->set_clock_offset_ms(-300000);
  CHECK(decode_request(body_of(clock)));
  move->set_clock_offset_ms(kMaxClockOffsetMs + 1);
  CHECK(refusal(clock).find("at most 31622400 s either way") != std::string::npos);
  move->set_clock_offset_ms(5000);
  move->add_peers("h2");
  CHECK(refusal(clock).find("this host's clock only") != std::string::npos);
  move->clear_peers();
  move->set_inbound_only(true);
  CHECK(refusal(clock).find("this host's clock only") != std::string::npos);

  const Bytes garbage{0xff, 0xff, 0xff, 0xff, 0xff};
  CHECK(decode_request(garbage).error().to_string().find("malformed") != std::string::npos);
}

TEST_CASE("control server: a request and its answer through a real socket") {
  TempDir dir("shoal-control");
  const std::string path = dir.file("run/shoal/shoal.sock");  // parents are created
  {
    RunningServer running(path, members_handler);
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 0777) == 0600);

    proto::ControlRequest request;
    request.mutable_members();
    auto answer = cli::call(path, request, 2000ms);
    REQUIRE(answer);
    const proto::ControlResponse& response = *answer;
    CHECK(response.error().empty());
    REQUIRE(response.members_size() == 1);
    CHECK(response.members(0).name() == "host-a");
    CHECK(response.members(0).incarnation() == 3);

    auto forgot = cli::call(path, forget("host-b"), 2000ms);
    REQUIRE(forgot);
    CHECK(forgot->message() == "forgot host-b");

    // The handler hears who asked from the kernel: this process's user.
    proto::ControlRequest status;
    status.mutable_status();
    auto who = cli::call(path, status, 2000ms);
    REQUIRE(who);
    CHECK(who->message() == "uid " + std::to_string(::geteuid()));

    // Refused before the handler sees it, and the client shows the agent's reason.
    auto refused = cli::call(path, forget(std::string(300, 'x')), 2000ms);
    REQUIRE(refused);
    CHECK(refused->error().find("limit is 256") != std::string::npos);
    CHECK(running.server->rejected() == 1);
  }
  CHECK_FALSE(std::filesystem::exists(path));  // removed by the destructor
}

TEST_CASE("control server: garbage and oversized requests get an error answer") {
  TempDir dir("shoal-control");
  const std::string path = dir.file("shoal.sock");
  RunningServer running(path, members_handler);

  const Bytes garbage{0x00, 0x00, 0x00, 0x05, 0xff, 0xff, 0xff, 0xff, 0xff};
  CHECK(decode_answer(raw_exchange(path, garbage)).error().find("malformed") != std::string::npos);

  const Bytes oversized{0x7f, 0xff, 0xff, 0xff, 0x01, 0x02};
  CHECK(decode_answer(raw_exchange(path, oversized)).error() ==
        "request refused: frame of 2147483647 bytes is over the limit of 65536");

  CHECK(running.server->rejected() == 2);

  // A client that hangs up mid-request gets no answer but is counted; the server lives on.
  CHECK(raw_exchange(path, Bytes{0x00, 0x00, 0x00, 0x09, 0x01}).empty());
  proto::ControlRequest request;
  request.mutable_members();
  CHECK(cli::call(path, request, 2000ms).ok());
  CHECK(running.server->rejected() == 3);
}

TEST_CASE("control server: a live agent on the path is not displaced, a stale file is") {
  TempDir dir("shoal-control");
  const std::string path = dir.file("shoal.sock");
  {
    RunningServer first(path, members_handler);
    boost::asio::io_context io;
    auto second = ControlServer::start(io, path, members_handler);
    REQUIRE_FALSE(second);
    CHECK(second.error().to_string() ==
          "another agent is running on " + path +
              " (stop it, or give this one another --control-socket)");
    CHECK(std::filesystem::exists(path));  // the refusal left the first one's file alone
  }

  make_stale_socket(path);
  REQUIRE(std::filesystem::exists(path));
  RunningServer replaced(path, members_handler);
  proto::ControlRequest request;
  request.mutable_members();
  CHECK(cli::call(path, request, 2000ms).ok());
}

TEST_CASE("control server: a path that is not a socket is never removed") {
  TempDir dir("shoal-control");
  const std::string path = dir.file("shoal.sock");
  std::ofstream(path) << "precious";
  boost::asio::io_context io;
  auto started = ControlServer::start(io, path, members_handler);
  REQUIRE_FALSE(started);
  CHECK(started.error().to_string().find("exists and is not a socket") != std::string::npos);
  CHECK(std::filesystem::file_size(path) == 8);
}

TEST_CASE("control client: errors name the socket and say what to try") {
  TempDir dir("shoal-control");
  const std::string path = dir.file("absent.sock");
  proto::ControlRequest request;
  request.mutable_status();
  auto missing = cli::call(path, request, 500ms);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().to_string() ==
        "cannot reach the shoal agent at " + path +
            ": No such file or directory (is `shoal agent` running? --control-socket sets the "
            "path)");

  // Listening but never answering: the client gives up at its deadline.
  const std::string mute = dir.file("mute.sock");
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, mute.data(), mute.size());
  REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 4) == 0);
  const auto before = std::chrono::steady_clock::now();
  auto slow = cli::call(mute, request, 200ms);
  const auto took = std::chrono::steady_clock::now() - before;
  ::close(fd);
  REQUIRE_FALSE(slow);
  CHECK(slow.error().to_string() == "the shoal agent at " + mute + " did not answer within 200 ms");
  CHECK(took >= 190ms);
  CHECK(took < 2s);
}

TEST_CASE("control server: idle clients past the limit never lock out a quick one") {
  TempDir dir("shoal-control");
  const std::string path = dir.file("shoal.sock");
  RunningServer running(path, members_handler);
  std::vector<int> idle;
  for (size_t i = 0; i < ControlServer::kMaxConnections + 20; ++i) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
    idle.push_back(fd);  // connected, sending nothing: a slow or stuck client
  }
  proto::ControlRequest request;
  request.mutable_members();
  for (int attempt = 0; attempt < 5; ++attempt) {  // each one gets its answer
    auto answer = cli::call(path, request, 2000ms);
    REQUIRE(answer);
    CHECK(answer->members_size() == 1);
  }
  for (int fd : idle) ::close(fd);
}

TEST_CASE("control server: a valid request followed by junk still gets its answer") {
  TempDir dir("shoal-control");
  const std::string path = dir.file("shoal.sock");
  RunningServer running(path, members_handler);
  proto::ControlRequest request;
  request.mutable_members();
  Bytes bytes = encode_frame(request);
  for (int i = 0; i < 16; ++i) bytes.push_back(0xff);  // a header of a huge frame, and more
  const auto response = decode_answer(raw_exchange(path, bytes));
  CHECK(response.error().empty());
  CHECK(response.members_size() == 1);
}
