#include "agent/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "common/status.h"

namespace shoal::agent {
namespace {

bool is_alpha_or_underscore(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A programming error (common/status.h's rule): abort, naming the metric and the fault.
[[noreturn]] void refuse(std::string_view name, const std::string& why) {
  const std::string what = "metric \"" + std::string(name) + "\": " + why;
  precondition_failed(what.c_str(), __FILE__, __LINE__);
}

// Help text escapes only backslash and newline; label values also escape the quote.
void append_escaped(std::string& out, std::string_view text, bool escape_quote) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void append_value(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest round trip
    out.append(buf, ec == std::errc() ? end : buf);
  }
}

}  // namespace

bool Metrics::valid_metric_name(std::string_view name) {
  if (name.empty() || !(is_alpha_or_underscore(name[0]) || name[0] == ':')) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return is_alpha_or_underscore(c) || is_digit(c) || c == ':'; });
}

bool Metrics::valid_label_name(std::string_view name) {
  if (name.empty() || !is_alpha_or_underscore(name[0]) || name.starts_with("__")) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return is_alpha_or_underscore(c) || is_digit(c); });
}

Metrics::Series& Metrics::slot(std::string_view name, std::string_view help, Type type,
                               MetricLabels labels, bool& created) {
  if (!valid_metric_name(name)) refuse(name, "name must match [a-zA-Z_:][a-zA-Z0-9_:]*");
  std::sort(labels.begin(), labels.end());
  for (size_t i = 0; i < labels.size(); ++i) {
    if (!valid_label_name(labels[i].first)) {
      refuse(name, "label \"" + labels[i].first +
                       "\" must match [a-zA-Z_][a-zA-Z0-9_]* and not start with \"__\"");
    }
    if (i > 0 && labels[i].first == labels[i - 1].first) {
      refuse(name, "label \"" + labels[i].first + "\" given twice");
    }
  }
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{type, std::string(help), {}}).first;
  } else if (it->second.type != type) {
    refuse(name, "registered before with another type");
  } else if (it->second.help != help) {
    refuse(name, "registered before with other help text");
  }
  auto [series, inserted] = it->second.series.try_emplace(std::move(labels));
  created = inserted;
  return series->second;
}

Counter& Metrics::counter(std::string_view name, std::string_view help, MetricLabels labels) {
  bool created = false;
  Series& s = slot(name, help, Type::kCounter, std::move(labels), created);
  return std::get<Counter>(s);  // a counter family holds only Counters
}

Gauge& Metrics::gauge(std::string_view name, std::string_view help, MetricLabels labels) {
  bool created = false;
  Series& s = slot(name, help, Type::kGauge, std::move(labels), created);
  if (created) s = Gauge{};
  if (!std::holds_alternative<Gauge>(s)) refuse(name, "series is computed by a gauge_fn");
  return std::get<Gauge>(s);
}

void Metrics::gauge_fn(std::string_view name, std::string_view help, MetricLabels labels,
                       std::function<double()> fn) {
  if (!fn) refuse(name, "gauge_fn needs a function");
  bool created = false;
  Series& s = slot(name, help, Type::kGauge, std::move(labels), created);
  if (!created) refuse(name, "series registered twice");
  s = std::move(fn);
}

std::string Metrics::render() const {
  std::string out;
  for (const auto& [name, family] : families_) {
    if (!family.help.empty()) {
      out += "# HELP " + name + " ";
      append_escaped(out, family.help, /*escape_quote=*/false);
      out += "\n";
    }
    out += "# TYPE " + name + (family.type == Type::kCounter ? " counter\n" : " gauge\n");
    for (const auto& [labels, series] : family.series) {
      out += name;
      if (!labels.empty()) {
        out += "{";
        for (size_t i = 0; i < labels.size(); ++i) {
          if (i > 0) out += ",";
          out += labels[i].first + "=\"";
          append_escaped(out, labels[i].second, /*escape_quote=*/true);
          out += "\"";
        }
        out += "}";
      }
      out += " ";
      if (const auto* c = std::get_if<Counter>(&series)) {
        out += std::to_string(c->value());
      } else if (const auto* g = std::get_if<Gauge>(&series)) {
        append_value(out, g->value());
      } else {
        append_value(out, std::get<std::function<double()>>(series)());
      }
      out += "\n";
    }
  }
  return out;
}

}  // namespace shoal::agent
