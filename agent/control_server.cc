#include "agent/control_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <vector>

#include "agent/connection_tracker.h"
#include "common/fd.h"
#include "common/unix_socket.h"
#include "protocol/control_codec.h"

namespace shoal::agent {

namespace {
using boost::asio::local::stream_protocol;
}  // namespace

class ControlConnection;

struct ControlServer::Shared {
  Handler handler;
  std::atomic<uint64_t> rejected{0};
  bool stopped = false;
  ConnectionTracker<ControlConnection> live{kMaxConnections};
};

// One client: read a frame, answer it, close. Holds itself alive through its pending
// operations; the timer bounds the whole exchange.
class ControlConnection : public std::enable_shared_from_this<ControlConnection> {
 public:
  ControlConnection(stream_protocol::socket socket, std::shared_ptr<ControlServer::Shared> shared)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), shared_(std::move(shared)) {}

  void start() {
    arm_timer();
    read();
  }

  void close() {
    boost::system::error_code ignored;
    timer_.cancel();
    socket_.close(ignored);
  }

 private:
  void arm_timer() {
    timer_.expires_after(ControlServer::kReadTimeout);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return;                             // cancelled: the exchange ended in time
      if (self->answered_) return self->close();  // the client does not read its answer
      self->reject("no complete request within " +
                   std::to_string(ControlServer::kReadTimeout.count()) + " s");
    });
  }

  void read() {
    socket_.async_read_some(boost::asio::buffer(buffer_),
                            [self = shared_from_this()](const boost::system::error_code& ec,
                                                        size_t n) { self->on_read(ec, n); });
  }

  void on_read(const boost::system::error_code& ec, size_t n) {
    if (answered_ || shared_->stopped) return;
    reader_.feed(ByteView(buffer_.data(), n));
    // A complete request is answered even if junk follows it in the same read: one request
    // per connection, the rest is never looked at.
    if (auto body = reader_.next()) return on_request(*body);
    if (!reader_.error().ok()) return reject("request refused: " + reader_.error().to_string());
    if (!ec) return read();
    if (reader_.mid_frame()) shared_->rejected++;  // cut short: nobody left to answer
    close();
  }

  void on_request(const Bytes& body) {
    auto decoded = protocol::decode_request(body);
    if (!decoded) return reject(decoded.error().to_string());
    ControlCaller caller;
    struct ucred cred {};
    socklen_t cred_size = sizeof(cred);
    if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &cred_size) == 0 &&
        cred_size == sizeof(cred))
      caller = {true, cred.uid, cred.pid};
    proto::ControlResponse response;
    try {
      response = shared_->handler(*decoded, caller);
    } catch (const std::exception& e) {
      response.Clear();
      response.set_error(std::string("the agent failed to answer: ") + e.what());
    }
    if (response.ByteSizeLong() > protocol::kMaxControlResponse) {
      const size_t size = response.ByteSizeLong();
      response.Clear();
      response.set_error("the answer is " + std::to_string(size) + " bytes, over the limit of " +
                         std::to_string(protocol::kMaxControlResponse));
    }
    respond(response);
  }

  void reject(const std::string& error) {
    shared_->rejected++;
    proto::ControlResponse response;
    response.set_error(error);
    respond(response);
  }

  void respond(const proto::ControlResponse& response) {
    answered_ = true;
    out_ = protocol::encode_frame(response);
    arm_timer();
    boost::asio::async_write(
        socket_, boost::asio::buffer(out_),
        [self = shared_from_this()](const boost::system::error_code&, size_t) { self->close(); });
  }

  stream_protocol::socket socket_;
  boost::asio::steady_timer timer_;
  std::shared_ptr<ControlServer::Shared> shared_;
  FrameReader reader_{protocol::kMaxControlRequest};
  std::array<uint8_t, 4096> buffer_{};
  Bytes out_;
  bool answered_ = false;
};

namespace {

// Ok if `path` is free to bind (a stale socket file was removed), else why not.
Status claim_path(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return errno_status("cannot inspect control socket " + path);
  }
  if (!S_ISSOCK(st.st_mode))
    return Status::invalid_argument(
        path + " exists and is not a socket: remove it or choose another --control-socket");

  auto address = unix_address(path);
  if (!address) return address.error();
  const Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe.valid()) return errno_status("cannot create a Unix socket");
  const int rc = ::connect(probe.get(), address->get(), address->length);
  const int connect_errno = errno;
  if (rc == 0)
    return Status::unavailable("another agent is running on " + path +
                               " (stop it, or give this one another --control-socket)");
  if (connect_errno != ECONNREFUSED)
    return errno_status("cannot tell whether control socket " + path + " is in use", connect_errno);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return errno_status("cannot remove stale control socket " + path);
  return {};
}

Status make_parent(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (parent.empty() || std::filesystem::exists(parent, ec)) return {};
  std::filesystem::create_directories(parent, ec);
  if (!ec)
    std::filesystem::permissions(parent, std::filesystem::perms(0755),
                                 std::filesystem::perm_options::replace, ec);
  if (ec)
    return Status::io_error("cannot create directory " + parent.string() +
                            " for the control socket: " + ec.message());
  return {};
}

}  // namespace

ControlServer::ControlServer(boost::asio::io_context& io, std::string path, Handler handler)
    : path_(std::move(path)),
      acceptor_(io, "control connections"),
      shared_(std::make_shared<Shared>()) {
  shared_->handler = std::move(handler);
}

Result<std::unique_ptr<ControlServer>> ControlServer::start(boost::asio::io_context& io,
                                                            const std::string& path,
                                                            Handler handler) {
  if (path.empty()) return Status::invalid_argument("the control socket path is empty");
  if (path.size() > kMaxUnixPath)
    return Status::invalid_argument(
        "control socket path " + path + " is " + std::to_string(path.size()) +
        " bytes; Unix sockets allow at most " + std::to_string(kMaxUnixPath) +
        ": choose a shorter --control-socket");
  if (Status made = make_parent(path); !made.ok()) return made;
  if (Status claimed = claim_path(path); !claimed.ok()) return claimed;

  std::unique_ptr<ControlServer> server(new ControlServer(io, path, std::move(handler)));
  boost::system::error_code ec = server->acceptor_.bind(stream_protocol::endpoint(path));
  if (ec) {
    server->acceptor_.close();
    server->path_.clear();  // not ours: the destructor must not remove it
    return Status::io_error("cannot bind control socket " + path + ": " + ec.message());
  }
  // Nobody can connect before listen(), so the mode is set before anyone could use it.
  if (::chmod(path.c_str(), 0600) != 0)
    return errno_status("cannot make control socket " + path + " private (mode 0600)");
  ec = server->acceptor_.listen();
  if (ec) return Status::io_error("cannot listen on control socket " + path + ": " + ec.message());
  server->accept();
  return server;
}

ControlServer::~ControlServer() {
  shared_->stopped = true;
  acceptor_.close();
  shared_->live.close_all();
  if (!path_.empty()) ::unlink(path_.c_str());
}

uint64_t ControlServer::rejected() const { return shared_->rejected.load(); }

void ControlServer::accept() {
  acceptor_.start([shared = shared_](stream_protocol::socket socket) {
    // Full: the oldest connection goes, not the newcomer (see connection_tracker.h).
    auto connection = std::make_shared<ControlConnection>(std::move(socket), shared);
    if (shared->live.admit(connection)) shared->rejected++;
    connection->start();
  });
}

}  // namespace shoal::agent
