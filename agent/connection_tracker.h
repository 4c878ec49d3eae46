// ConnectionTracker keeps the live connections of one server in the order they arrived, so
// that at the cap the oldest is closed to admit a newcomer. A shoal command or a scrape is
// done in milliseconds, so the oldest connection is a slow or idle client: closing it first
// means slow clients cannot lock the operator out, and a full server still answers.
//
// Connections are held weakly (each keeps itself alive through its pending operations) and
// must have close(). Use it on one thread: the server's io_context's.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>

namespace shoal::agent {

template <class Connection>
class ConnectionTracker {
 public:
  explicit ConnectionTracker(size_t cap) : cap_(cap) {}

  // Registers `connection`. At the cap the oldest live connection is closed first; returns
  // whether one was.
  bool admit(const std::shared_ptr<Connection>& connection) {
    forget_gone();
    bool evicted = false;
    while (live_.size() >= cap_ && !live_.empty()) {
      if (auto oldest = live_.front().lock()) {
        oldest->close();
        evicted = true;
      }
      live_.pop_front();
    }
    live_.push_back(connection);
    return evicted;
  }

  // Closes every connection still open (the server is going away).
  void close_all() {
    for (auto& weak : live_)
      if (auto connection = weak.lock()) connection->close();
    live_.clear();
  }

  size_t open() {
    forget_gone();
    return live_.size();
  }

 private:
  void forget_gone() {
    std::erase_if(live_, [](const std::weak_ptr<Connection>& w) { return w.expired(); });
  }

  size_t cap_;
  std::deque<std::weak_ptr<Connection>> live_;
};

}  // namespace shoal::agent
