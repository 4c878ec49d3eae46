// GossipTransport carries the gossip core's traffic: datagrams on one UDP socket and streams
// (push-pull, probes over TCP) on one TCP listener, on the same address and port, every
// payload sealed by protocol::SealedFrames. It owns the sockets and the streams and enforces their
// limits; the agent hands it the core's transmits and gets back what arrives.
//
// Promises:
//  - Only authenticated payloads reach the handler; everything refused is counted in
//    TransportCounters by reason, and logged once per 100.
//  - Streams are capped in total (256) and per source address (16); unauthenticated bytes
//    buffered across all streams stay within 4 MiB, the greediest such stream shed first;
//    a stream lives at most gossip::Config::stream_timeout.
//  - Out of file descriptors, accepting sheds the waiting connection and backs off rather
//    than spinning (agent/acceptor.h).
//  - After close(), no handler runs and every socket is closed.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>

#include "agent/acceptor.h"
#include "agent/agent_metrics.h"
#include "agent/asio.h"
#include "common/status.h"
#include "gossip/config.h"
#include "gossip/membership.h"
#include "protocol/sealed_frames.h"

namespace shoal::agent {

class GossipTransport {
 public:
  struct Handler {
    // An authenticated datagram, and a message on stream `stream`.
    std::function<void(const Endpoint& from, const Bytes& packet)> datagram;
    std::function<void(const Endpoint& from, gossip::StreamId stream, const Bytes& message)>
        stream_message;
    // After each batch of input: the agent runs its cores (and sends what they transmit).
    std::function<void()> after_input;
  };

  // Binds `bind` for UDP and TCP; nothing is read until start().
  static Result<std::unique_ptr<GossipTransport>> open(asio::io_context& io, const Endpoint& bind,
                                                       const protocol::SealedFrames& frames,
                                                       const gossip::Config& config,
                                                       TransportCounters& counters,
                                                       Handler handler);
  ~GossipTransport();
  GossipTransport(const GossipTransport&) = delete;
  GossipTransport& operator=(const GossipTransport&) = delete;

  void start();
  // A transmit of the gossip core: a datagram, a new stream, or more on (or the end of) one.
  void send(gossip::Transmit t);
  void close();

 private:
  struct Stream;
  GossipTransport(asio::io_context& io, const protocol::SealedFrames& frames,
                  const gossip::Config& config, TransportCounters& counters, Handler handler);

  void receive_datagrams();
  void accept_streams();
  void admit_stream(asio::ip::tcp::socket socket);
  // False when the stream being read was closed to stay within the budget.
  bool enforce_unauthenticated_budget(uint64_t reading);
  void start_reading(uint64_t id, std::shared_ptr<Stream> s);
  void write_next(uint64_t id, std::shared_ptr<Stream> s);
  void close_stream(uint64_t id);
  std::shared_ptr<Stream> add_stream(asio::ip::tcp::socket socket, const Endpoint& peer,
                                     bool connected, uint64_t& id);

  asio::io_context& io_;
  const protocol::SealedFrames& frames_;
  const gossip::Config config_;
  TransportCounters& counters_;
  Handler handler_;
  asio::ip::udp::socket udp_;
  Acceptor<asio::ip::tcp> acceptor_;
  std::array<uint8_t, 65536> datagram_{};
  asio::ip::udp::endpoint datagram_from_;
  std::map<uint64_t, std::shared_ptr<Stream>> streams_;
  uint64_t next_stream_ = 1;
  bool closed_ = false;
};

}  // namespace shoal::agent
