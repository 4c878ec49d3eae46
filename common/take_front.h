// take_front: pops the first element of a deque, or nullopt when empty. The poll_*()
// methods of every sans-IO core are this one line.
#pragma once

#include <deque>
#include <optional>
#include <utility>

namespace shoal {

template <typename T>
std::optional<T> take_front(std::deque<T>& queue) {
  if (queue.empty()) return std::nullopt;
  std::optional<T> front(std::move(queue.front()));
  queue.pop_front();
  return front;
}

}  // namespace shoal
