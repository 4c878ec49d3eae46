// The how of run_report.h. The HTML page carries its own CSS and SVG (no scripts, nothing
// fetched), so it opens anywhere, from a CI artifact too.
#include "chaos/run_report.h"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <vector>

#include "json/strict_json.h"

namespace shoal::chaos {
namespace {

std::string seconds(double s) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", s);
  return buffer;
}

std::string_view outcome_name(RunReport::Verdict::Outcome o) {
  switch (o) {
    case RunReport::Verdict::Outcome::kPass:
      return "pass";
    case RunReport::Verdict::Outcome::kFail:
      return "FAIL";
    case RunReport::Verdict::Outcome::kSkipped:
      return "skipped";
  }
  return "?";
}

std::string_view kind_name(RunReport::Event::Kind k) {
  switch (k) {
    case RunReport::Event::Kind::kFault:
      return "fault";
    case RunReport::Event::Kind::kRecovery:
      return "recovery";
    case RunReport::Event::Kind::kCluster:
      return "cluster";
  }
  return "?";
}

std::string escaped(std::string_view text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

// The SVG timeline: faults as bands over two agreement curves (three when pods were probed:
// the share of pod pairs that reach each other) and, with few hosts, one row per host
// coloured by its state.
std::string svg(const RunReport& r) {
  const double left = 150, width = 900, curve_h = 60, row_h = 12, top = 48;
  std::vector<double> label_end(3, 0.0);  // where each line of fault labels is taken up to
  const size_t rows = r.hosts <= RunReport::kMaxHostRows ? r.hosts : 0;
  const bool probed = std::any_of(r.samples.begin(), r.samples.end(),
                                  [](const RunReport::Sample& m) { return m.pods_reach >= 0; });
  const double curves_top = top, rows_top = top + (probed ? 3 : 2) * (curve_h + 16);
  const double height = rows_top + static_cast<double>(rows) * row_h + 30;
  const double span = std::max(r.duration_s, 1e-3);
  auto x = [&](double t) { return left + width * std::clamp(t / span, 0.0, 1.0); };
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << left + width + 20 << "\" height=\""
    << height << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  s << "<title>" << escaped(r.scenario) << ": timeline</title>\n";
  for (const auto& b : r.bands) {
    s << "<rect class=\"fault\" x=\"" << x(b.from) << "\" y=\"" << top - 14 << "\" width=\""
      << std::max(1.0, x(b.to) - x(b.from)) << "\" height=\"" << height - top - 2
      << "\" fill=\"#f2c94c\" fill-opacity=\"0.25\"><title>" << escaped(b.label) << " ("
      << seconds(b.from) << " s to " << seconds(b.to) << " s)</title></rect>\n";
    // Labels of faults that start close together go on the next of three lines, so that
    // none is written over another (about 6 px a character at this size).
    const std::string label = b.label.substr(0, 40);
    size_t line = 0;
    while (line + 1 < label_end.size() && label_end[line] > x(b.from)) ++line;
    label_end[line] = x(b.from) + 6.0 * static_cast<double>(label.size()) + 8;
    s << "<text x=\"" << x(b.from) + 2 << "\" y=\"" << top - 4 - 12.0 * static_cast<double>(line)
      << "\" fill=\"#8a6d00\">" << escaped(label) << "</text>\n";
  }
  auto curve = [&](double y0, const char* label, const char* colour, auto value) {
    s << "<text x=\"4\" y=\"" << y0 + curve_h / 2 << "\">" << label << "</text>\n";
    s << "<rect x=\"" << left << "\" y=\"" << y0 << "\" width=\"" << width << "\" height=\""
      << curve_h << "\" fill=\"none\" stroke=\"#ccc\"/>\n";
    s << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"1.5\" points=\"";
    for (const auto& sample : r.samples)
      s << x(sample.t) << "," << y0 + curve_h * (1 - value(sample)) << " ";
    s << "\"/>\n";
  };
  curve(curves_top, "hosts' member view right", "#2f80ed",
        [](const RunReport::Sample& m) { return m.members_agree; });
  curve(curves_top + curve_h + 16, "owner map agreed", "#27ae60",
        [](const RunReport::Sample& m) { return m.owners_agree; });
  if (probed)
    curve(curves_top + 2 * (curve_h + 16), "pods reach pods", "#9b51e0",
          [](const RunReport::Sample& m) { return std::max(0.0F, m.pods_reach); });
  static const char* kColours[] = {"#bdbdbd", "#6fcf97", "#f2994a", "#eb5757"};
  for (size_t h = 0; h < rows; ++h) {
    const double y = rows_top + static_cast<double>(h) * row_h;
    s << "<text x=\"4\" y=\"" << y + row_h - 2 << "\">h" << h + 1 << "</text>\n";
    for (size_t i = 0; i < r.samples.size();) {
      const uint8_t state = h < r.samples[i].host_state.size() ? r.samples[i].host_state[h] : 0;
      size_t j = i + 1;
      while (j < r.samples.size() && h < r.samples[j].host_state.size() &&
             r.samples[j].host_state[h] == state)
        ++j;
      const double to = j < r.samples.size() ? r.samples[j].t : r.duration_s;
      s << "<rect x=\"" << x(r.samples[i].t) << "\" y=\"" << y << "\" width=\""
        << std::max(0.5, x(to) - x(r.samples[i].t)) << "\" height=\"" << row_h - 2 << "\" fill=\""
        << kColours[std::min<uint8_t>(state, 3)] << "\"/>\n";
      i = j;
    }
  }
  // A tick every "round" step, ten at most, so that a reader can tell when things happened
  // without hovering: 1, 2, 5, 10, 15, 30 s, 1, 2, 5, 10, 20, 30 min, an hour.
  double step = 3600;
  for (double candidate : {1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1200, 1800})
    if (span / candidate <= 10) {
      step = candidate;
      break;
    }
  for (double t = step; t < span && x(t) < left + width - 50; t += step) {
    s << "<line x1=\"" << x(t) << "\" y1=\"" << curves_top << "\" x2=\"" << x(t) << "\" y2=\""
      << height - 22 << "\" stroke=\"#000\" stroke-opacity=\"0.08\"/>\n";
    s << "<text x=\"" << x(t) << "\" y=\"" << height - 8 << "\" text-anchor=\"middle\">"
      << seconds(t) << " s</text>\n";
  }
  s << "<text x=\"" << left << "\" y=\"" << height - 8 << "\">0 s</text>\n";
  s << "<text x=\"" << left + width - 40 << "\" y=\"" << height - 8 << "\">"
    << seconds(r.duration_s) << " s</text>\n";
  s << "</svg>\n";
  return s.str();
}

}  // namespace

bool RunReport::passed() const {
  return std::none_of(verdicts.begin(), verdicts.end(),
                      [](const Verdict& v) { return v.outcome == Verdict::Outcome::kFail; });
}

std::string to_text(const RunReport& r) {
  std::ostringstream out;
  out << "scenario " << r.scenario << " (" << r.mode << ", " << r.hosts << " hosts, seed " << r.seed
      << ", " << seconds(r.duration_s) << " s)\n\ntimeline:\n";
  for (const auto& e : r.timeline) {
    char t[32];
    std::snprintf(t, sizeof t, "%8.1fs", e.t);
    out << "  " << t << "  " << (e.kind == RunReport::Event::Kind::kFault ? "! " : "  ") << e.what
        << "\n";
  }
  out << "\nchecks:\n";
  for (const auto& v : r.verdicts) {
    char name[64];
    std::snprintf(name, sizeof name, "%-16s", v.check.c_str());
    out << "  " << name << " " << outcome_name(v.outcome) << "  " << v.detail << "\n";
  }
  out << "\nverdict: " << (r.passed() ? "pass" : "FAIL") << " (" << seconds(r.wall_s)
      << " s of wall time)\n";
  return out.str();
}

std::string to_json(const RunReport& r) {
  using json::Json;
  Json j;
  j["scenario"] = r.scenario;
  j["summary"] = r.summary;
  j["mode"] = r.mode;
  j["hosts"] = r.hosts;
  j["seed"] = r.seed;
  j["duration_s"] = r.duration_s;
  j["wall_s"] = r.wall_s;
  j["verdict"] = r.passed() ? "pass" : "fail";
  Json& timeline = j["timeline"] = Json::array();
  for (const auto& e : r.timeline)
    timeline.push_back({{"t", e.t}, {"kind", kind_name(e.kind)}, {"what", e.what}});
  Json& bands = j["faults"] = Json::array();
  for (const auto& b : r.bands)
    bands.push_back({{"from", b.from}, {"to", b.to}, {"what", b.label}});
  Json& checks = j["checks"] = Json::array();
  for (const auto& v : r.verdicts)
    checks.push_back({{"check", v.check},
                      {"verdict", v.outcome == RunReport::Verdict::Outcome::kPass   ? "pass"
                                  : v.outcome == RunReport::Verdict::Outcome::kFail ? "fail"
                                                                                    : "skipped"},
                      {"detail", v.detail}});
  Json& recoveries = j["recoveries"] = Json::array();
  for (const auto& rec : r.recoveries)
    recoveries.push_back(
        {{"fault_end", rec.fault_end},
         {"after", rec.after},
         {"seconds", rec.seconds < 0 ? Json(nullptr) : Json(rec.seconds)},
         {"reach_seconds", rec.reach_seconds < 0 ? Json(nullptr) : Json(rec.reach_seconds)}});
  Json& samples = j["samples"] = Json::array();
  for (const auto& m : r.samples) {
    Json sample = {{"t", m.t},
                   {"up", m.up},
                   {"members_agree", m.members_agree},
                   {"owners_agree", m.owners_agree}};
    if (m.pods_reach >= 0) sample["pods_reach"] = m.pods_reach;
    if (!m.host_state.empty()) sample["host_state"] = m.host_state;
    samples.push_back(std::move(sample));
  }
  return j.dump(1, ' ', false, Json::error_handler_t::replace) + "\n";
}

std::string to_html(const RunReport& r) {
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta "
       "charset=\"utf-8\"/>\n<title>shoal-chaos: "
    << escaped(r.scenario) << "</title>\n<style>\n"
    << "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}"
    << "td,th{padding:2px 10px;text-align:left;border-bottom:1px solid #eee}"
    << ".pass{color:#219653;font-weight:bold}.FAIL{color:#c0392b;font-weight:bold}"
    << ".skipped{color:#888}.legend span{display:inline-block;width:12px;height:12px;"
    << "margin:0 4px 0 12px;vertical-align:middle}\n</style>\n</head>\n<body>\n";
  h << "<h1>" << escaped(r.scenario) << ": <span class=\"" << (r.passed() ? "pass" : "FAIL")
    << "\">" << (r.passed() ? "pass" : "FAIL") << "</span></h1>\n";
  h << "<p>" << escaped(r.summary) << "</p>\n<p>" << escaped(r.mode) << ", " << r.hosts
    << " hosts, seed " << r.seed << ", " << seconds(r.duration_s)
    << (r.mode == "sim" ? " s simulated in " : " s of scenario, run in ") << seconds(r.wall_s)
    << " s</p>\n";
  h << "<h2>Timeline</h2>\n" << svg(r);
  h << "<p class=\"legend\"><span style=\"background:#f2c94c66\"></span>a fault is on"
    << "<span style=\"background:#6fcf97\"></span>host agrees"
    << "<span style=\"background:#f2994a\"></span>member view off"
    << "<span style=\"background:#eb5757\"></span>owner map differs"
    << "<span style=\"background:#bdbdbd\"></span>down</p>\n";
  h << "<h2>Checks</h2>\n<table "
       "id=\"checks\">\n<tr><th>check</th><th>verdict</th><th>detail</th></tr>\n";
  for (const auto& v : r.verdicts)
    h << "<tr><td>" << escaped(v.check) << "</td><td class=\"" << outcome_name(v.outcome) << "\">"
      << outcome_name(v.outcome) << "</td><td>" << escaped(v.detail) << "</td></tr>\n";
  h << "</table>\n<h2>What happened</h2>\n<table id=\"events\">\n<tr><th>t "
       "(s)</th><th>what</th></tr>\n";
  for (const auto& e : r.timeline)
    h << "<tr class=\"" << kind_name(e.kind) << "\"><td>" << seconds(e.t) << "</td><td>"
      << escaped(e.what) << "</td></tr>\n";
  h << "</table>\n</body>\n</html>\n";
  return h.str();
}

}  // namespace shoal::chaos
