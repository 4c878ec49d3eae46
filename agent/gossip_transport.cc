#include "agent/gossip_transport.h"

#include <spdlog/spdlog.h>

namespace shoal::agent {

using asio::ip::tcp;
using asio::ip::udp;
using ErrorCode = boost::system::error_code;

namespace {

// Streams are short (a push-pull, a probe): these caps only bite under abuse. Unlike the
// control and metrics servers (agent/connection_tracker.h), a full stream table refuses the
// newcomer: the agent's own outgoing streams live in the same table, gossip retries, and the
// streams are also capped per source and shed by unauthenticated bytes, which an
// oldest-first tracker does not model.
constexpr size_t kMaxStreams = 256;
constexpr size_t kMaxStreamsPerSource = 16;
// Bytes buffered, in total, for streams that have not authenticated yet (a chunk is at most
// crypto::kMaxSealedSize, about 64 KiB).
constexpr size_t kUnauthenticatedBudget = 4 << 20;

}  // namespace

// One TCP connection carrying one gossip stream.
struct GossipTransport::Stream {
  Stream(asio::io_context& io, const protocol::SealedFrames& frames, size_t max_message)
      : socket(io), deadline(io), reader(frames, max_message) {}
  tcp::socket socket;
  asio::steady_timer deadline;
  protocol::SealedFrames::Reader reader;
  Endpoint peer;
  std::deque<Bytes> out;
  bool connected = false;
  bool writing = false;
  bool close_after_writes = false;
  std::array<uint8_t, 16384> buffer{};
};

GossipTransport::GossipTransport(asio::io_context& io, const protocol::SealedFrames& frames,
                                 const gossip::Config& config, TransportCounters& counters,
                                 Handler handler)
    : io_(io),
      frames_(frames),
      config_(config),
      counters_(counters),
      handler_(std::move(handler)),
      udp_(io),
      acceptor_(io, "gossip streams", &counters.accept_errors) {}

GossipTransport::~GossipTransport() { close(); }

Result<std::unique_ptr<GossipTransport>> GossipTransport::open(
    asio::io_context& io, const Endpoint& bind, const protocol::SealedFrames& frames,
    const gossip::Config& config, TransportCounters& counters, Handler handler) {
  std::unique_ptr<GossipTransport> t(
      new GossipTransport(io, frames, config, counters, std::move(handler)));
  ErrorCode ec;
  const udp::endpoint datagrams = to_asio<udp>(bind);
  t->udp_.open(datagrams.protocol(), ec);
  if (!ec) t->udp_.bind(datagrams, ec);
  if (ec) return Status::io_error("cannot bind UDP " + bind.to_string() + ": " + ec.message());
  ec = t->acceptor_.bind(to_asio<tcp>(bind));
  if (!ec) ec = t->acceptor_.listen();
  if (ec) return Status::io_error("cannot listen on TCP " + bind.to_string() + ": " + ec.message());
  return t;
}

void GossipTransport::start() {
  receive_datagrams();
  accept_streams();
}

void GossipTransport::close() {
  if (closed_) return;
  closed_ = true;
  ErrorCode ignored;
  udp_.close(ignored);
  acceptor_.close();
  for (auto& [id, s] : streams_) {
    s->deadline.cancel();
    s->socket.close(ignored);
  }
  streams_.clear();
}

// --- datagrams -------------------------------------------------------------------------

void GossipTransport::receive_datagrams() {
  udp_.async_receive_from(
      asio::buffer(datagram_), datagram_from_, [this](const ErrorCode& ec, size_t n) {
        if (ec == asio::error::operation_aborted || closed_) return;
        if (!ec) {
          auto packet = frames_.unwrap_datagram(ByteView(datagram_.data(), n));
          const Endpoint from = from_asio(datagram_from_);
          counters_.datagrams_in++;
          if (packet) {
            handler_.datagram(from, *packet);
          } else if (const auto reason = packet.error();
                     counters_.dropped[size_t(reason)]++ % 100 == 0) {
            spdlog::warn("dropped a datagram from {}: {} ({} so far)", from.to_string(),
                         to_string(reason), counters_.dropped[size_t(reason)]);
          }
          handler_.after_input();
        }
        if (!closed_) receive_datagrams();
      });
}

void GossipTransport::send(gossip::Transmit t) {
  if (closed_) return;
  if (t.kind == gossip::Transmit::Kind::kDatagram) {
    counters_.datagrams_out++;
    auto wire = std::make_shared<Bytes>(frames_.wrap_datagram(t.payload));
    udp_.async_send_to(asio::buffer(*wire), to_asio<udp>(t.to),
                       [wire](const ErrorCode&, size_t) {});
    return;
  }
  std::shared_ptr<Stream> s;
  uint64_t id = 0;
  if (!t.stream) {  // a new stream to t.to
    counters_.streams_opened++;
    s = add_stream(tcp::socket(io_), t.to, false, id);
    s->socket.async_connect(to_asio<tcp>(t.to), [this, id, s](const ErrorCode& ec) {
      if (ec) {
        spdlog::debug("stream to {}: {}", s->peer.to_string(), ec.message());
        close_stream(id);
        return;
      }
      s->connected = true;
      write_next(id, s);
      start_reading(id, s);
    });
  } else {
    id = t.stream->value;
    auto it = streams_.find(id);
    if (it == streams_.end()) return;  // the connection is gone; the core times out
    s = it->second;
  }
  // An answer goes back in the key the peer spoke (sealed_frames.h); our own openings in
  // the primary.
  if (!t.payload.empty()) s->out.push_back(frames_.wrap_message(t.payload, s->reader.key()));
  if (t.close) s->close_after_writes = true;
  if (s->connected) write_next(id, s);
}

// --- streams ---------------------------------------------------------------------------

std::shared_ptr<GossipTransport::Stream> GossipTransport::add_stream(tcp::socket socket,
                                                                     const Endpoint& peer,
                                                                     bool connected, uint64_t& id) {
  id = next_stream_++;
  auto s = std::make_shared<Stream>(io_, frames_, config_.max_stream_bytes);
  s->socket = std::move(socket);
  s->peer = peer;
  s->connected = connected;
  streams_[id] = s;
  s->deadline.expires_after(config_.stream_timeout);
  s->deadline.async_wait([this, id](const ErrorCode& ec) {
    if (!ec) close_stream(id);
  });
  return s;
}

void GossipTransport::accept_streams() {
  acceptor_.start([this](tcp::socket socket) { admit_stream(std::move(socket)); });
}

void GossipTransport::admit_stream(tcp::socket socket) {
  ErrorCode peer_ec;
  const auto remote = socket.remote_endpoint(peer_ec);
  const Endpoint peer = from_asio(remote);
  size_t from_peer = 0;
  for (const auto& [sid, other] : streams_) from_peer += other->peer.address == peer.address;
  if (peer_ec || streams_.size() >= kMaxStreams || from_peer >= kMaxStreamsPerSource) {
    counters_.streams_refused++;
    ErrorCode ignored;
    socket.close(ignored);
    return;
  }
  counters_.streams_accepted++;
  uint64_t id = 0;
  auto s = add_stream(std::move(socket), peer, true, id);
  start_reading(id, s);
}

bool GossipTransport::enforce_unauthenticated_budget(uint64_t reading) {
  // Bytes from peers that have not yet sent one authentic chunk are bounded in total, not
  // only per frame: over the budget, the greediest such streams are closed first.
  size_t total = 0;
  for (const auto& [sid, s] : streams_)
    if (!s->reader.authenticated()) total += s->reader.buffered();
  bool kept = true;
  while (total > kUnauthenticatedBudget) {
    uint64_t greediest = 0;
    size_t most = 0;
    for (const auto& [sid, s] : streams_) {
      if (!s->reader.authenticated() && s->reader.buffered() > most) {
        most = s->reader.buffered();
        greediest = sid;
      }
    }
    if (most == 0) break;
    counters_.streams_shed++;
    if (greediest == reading) kept = false;
    close_stream(greediest);
    total -= most;
  }
  return kept;
}

void GossipTransport::start_reading(uint64_t id, std::shared_ptr<Stream> s) {
  s->socket.async_read_some(asio::buffer(s->buffer), [this, id, s](const ErrorCode& ec, size_t n) {
    if (ec || closed_) {
      if (!s->writing) close_stream(id);
      return;
    }
    s->reader.feed(ByteView(s->buffer.data(), n));
    if (!s->reader.authenticated() && !enforce_unauthenticated_budget(id)) return;  // shed
    while (auto message = s->reader.next())
      handler_.stream_message(s->peer, gossip::StreamId{id}, *message);
    if (const auto failed = s->reader.failed()) {
      const auto reason = *failed;
      if (counters_.dropped[size_t(reason)]++ % 100 == 0)
        spdlog::warn("closed a stream from {}: {} ({} so far)", s->peer.to_string(),
                     to_string(reason), counters_.dropped[size_t(reason)]);
      close_stream(id);
      handler_.after_input();
      return;
    }
    handler_.after_input();
    if (!closed_) start_reading(id, s);
  });
}

void GossipTransport::write_next(uint64_t id, std::shared_ptr<Stream> s) {
  if (s->writing) return;
  if (s->out.empty()) {
    if (s->close_after_writes) close_stream(id);
    return;
  }
  s->writing = true;
  asio::async_write(s->socket, asio::buffer(s->out.front()),
                    [this, id, s](const ErrorCode& ec, size_t) {
                      s->writing = false;
                      if (ec) {
                        close_stream(id);
                        return;
                      }
                      s->out.pop_front();
                      write_next(id, s);
                    });
}

void GossipTransport::close_stream(uint64_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  auto s = it->second;
  streams_.erase(it);
  ErrorCode ignored;
  s->deadline.cancel();
  s->socket.shutdown(tcp::socket::shutdown_both, ignored);
  s->socket.close(ignored);
}

}  // namespace shoal::agent
