// Metrics is the agent's Prometheus registry: families are registered once at start-up,
// updated cheaply afterwards (a counter is a uint64_t, a gauge a double), and render()
// writes the text exposition format 0.0.4 that `GET /metrics` serves.
//
// Promises: render() is deterministic (families sorted by name, series by their labels);
// every family gets one `# HELP` (when help is not empty) and one `# TYPE` line; label
// values and help text are escaped per the format. Names are checked at registration
// (metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* and not
// starting with "__"); a bad name, a family registered again with another type or help, or
// a scrape-time gauge registered twice aborts with a message (SHOAL_REQUIRE's rule): these
// are programming errors, caught by the first test that registers them, never untrusted input.
//
// Not thread-safe: register, update and render from the one thread that runs the agent's
// io_context. References returned by counter() and gauge() stay valid as long as the
// Metrics object.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace shoal::agent {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(uint64_t n = 1) { value_ += n; }
  uint64_t value() const { return value_; }

 private:
  uint64_t value_ = 0;
};

class Gauge {
 public:
  void set(double v) { value_ = v; }
  void add(double d) { value_ += d; }
  double value() const { return value_; }

 private:
  double value_ = 0;
};

class Metrics {
 public:
  // The same name and labels registered again return the same series.
  Counter& counter(std::string_view name, std::string_view help, MetricLabels labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, MetricLabels labels = {});
  // A gauge whose value is computed by `fn` at every render(), e.g. the member count.
  void gauge_fn(std::string_view name, std::string_view help, MetricLabels labels,
                std::function<double()> fn);

  std::string render() const;

  static bool valid_metric_name(std::string_view name);
  static bool valid_label_name(std::string_view name);

 private:
  enum class Type { kCounter, kGauge };
  using Series = std::variant<Counter, Gauge, std::function<double()>>;
  struct Family {
    Type type;
    std::string help;
    std::map<MetricLabels, Series> series;  // labels sorted by name
  };

  // Finds or creates the family and the series slot; `created` says which.
  Series& slot(std::string_view name, std::string_view help, Type type, MetricLabels labels,
               bool& created);

  std::map<std::string, Family, std::less<>> families_;
};

}  // namespace shoal::agent
