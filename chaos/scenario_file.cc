// The how of scenario_file.h: the strict JSON parse (json/strict_json.h), then a walk of the
// tree in which every value is checked against its key before it is used.
#include "chaos/scenario_file.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <set>

#include "chaos/json_object.h"
#include "common/quoted.h"
#include "json/strict_json.h"
#include "lease/network_config.h"

namespace shoal::chaos {
namespace {

using json::Json;
using json::shown;

constexpr double kMaxSeconds = 7 * 24 * 3600.0;

// Host names: "h1" .. "hN", one-based as the namespaces name them.
std::string host_name(uint32_t index) { return "h" + std::to_string(index + 1); }

std::string describe(const std::vector<uint32_t>& hosts, size_t n) {
  if (hosts.size() == n) return "all";
  if (hosts.empty()) return "none";
  std::string out;
  for (size_t i = 0; i < hosts.size();) {
    size_t j = i;
    while (j + 1 < hosts.size() && hosts[j + 1] == hosts[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += host_name(hosts[i]);
    if (j > i) out += "-" + host_name(hosts[j]);
    i = j + 1;
    if (out.size() > 60) return out + ",...";
  }
  return out;
}

class Parser {
 public:
  explicit Parser(ScenarioFile& file) : f_(file) {}

  // A host set: "all", "h3", "h2-h5", "site:NAME" (or "site:NAME/first", "site:NAME/last"),
  // "majority", "minority", or a list of
  // these (their union). `others_of`: what "others" means here (the complement of a set).
  Status hosts(const Json& v, const std::string& path, std::vector<uint32_t>& out,
               const std::vector<uint32_t>* others_of = nullptr) const {
    std::set<uint32_t> picked;
    auto add_one = [&](const Json& item) -> Status {
      if (!item.is_string())
        return Status::bad_key(path,
                               "must name hosts (\"all\", \"h3\", \"h2-h5\", \"site:NAME\", "
                               "\"majority\", \"minority\"), got " +
                                   shown(item));
      const std::string& s = item.get_ref<const std::string&>();
      const uint32_t n = static_cast<uint32_t>(f_.hosts), majority = n / 2 + 1;
      if (s == "all") {
        for (uint32_t i = 0; i < n; ++i) picked.insert(i);
      } else if (s == "majority" || s == "minority") {
        for (uint32_t i = s == "majority" ? 0 : majority; i < (s == "majority" ? majority : n); ++i)
          picked.insert(i);
      } else if (s == "others" && others_of) {
        for (uint32_t i = 0; i < n; ++i)
          if (!std::count(others_of->begin(), others_of->end(), i)) picked.insert(i);
      } else if (s.starts_with("site:")) {
        // "site:NAME", or its first or last host alone: "site:NAME/first", "site:NAME/last".
        std::string name = s.substr(5), which;
        if (const size_t slash = name.find('/'); slash != std::string::npos)
          which = name.substr(slash + 1), name.resize(slash);
        if (!which.empty() && which != "first" && which != "last")
          return Status::bad_key(path, shoal::quoted(s) +
                                           ": after the site name comes /first or "
                                           "/last");
        const auto it = std::find(f_.sites.begin(), f_.sites.end(), name);
        if (it == f_.sites.end())
          return Status::bad_key(
              path, "names site " + shoal::quoted(name) + ", which topology.sites does not list");
        const auto site = static_cast<uint32_t>(it - f_.sites.begin());
        std::vector<uint32_t> in_site;
        for (uint32_t i = 0; i < n; ++i)
          if (f_.site_of_host[i] == site) in_site.push_back(i);
        if (which == "first") in_site.resize(1);
        if (which == "last") in_site.erase(in_site.begin(), in_site.end() - 1);
        picked.insert(in_site.begin(), in_site.end());
      } else {
        uint32_t lo = 0, hi = 0;
        if (!host_range(s, lo, hi))
          return Status::bad_key(
              path, shoal::quoted(s) +
                        " names no hosts; write \"all\", "
                        "\"h3\", \"h2-h5\", \"site:NAME\", \"majority\" or \"minority\"");
        if (hi >= n)
          return Status::bad_key(path, shoal::quoted(s) + " is beyond the " + std::to_string(n) +
                                           " hosts of this run");
        for (uint32_t i = lo; i <= hi; ++i) picked.insert(i);
      }
      return {};
    };
    if (v.is_array()) {
      if (v.size() > 1000) return Status::bad_key(path, "lists more than 1000 host sets");
      for (const Json& item : v) SHOAL_TRY(add_one(item));
    } else {
      SHOAL_TRY(add_one(v));
    }
    if (picked.empty()) return Status::bad_key(path, "names no hosts");
    out.assign(picked.begin(), picked.end());
    return {};
  }

  Status topology(const Json& v, const ScenarioSize& size, double& scale) {
    JsonObject o(v, "topology");
    SHOAL_TRY(o.only({"hosts", "sites", "backend", "encrypt", "pods_per_host", "network",
                      "subnet_len", "lease_ttl_s", "planted_bug"}));
    SHOAL_TRY(o.text("planted_bug", f_.planted_bug, 32));
    if (!f_.planted_bug.empty() && f_.planted_bug != "keep-lost-subnet" &&
        f_.planted_bug != "never-claim" && f_.planted_bug != "unreachable-pod" &&
        f_.planted_bug != "corrupt-database")
      return Status::bad_key(o.at("planted_bug"),
                             "must be keep-lost-subnet, never-claim, unreachable-pod or "
                             "corrupt-database (tests of the harness only)");
    SHOAL_TRY(o.whole("hosts", f_.hosts, 2, kMaxScenarioHosts));
    (void)scale;
    if (size.hosts) f_.hosts = size.hosts;
    if (const Json* sites = o.find("sites")) {
      if (!sites->is_array() || sites->empty() || sites->size() > 64)
        return Status::bad_key(o.at("sites"), "must be a list of 1 to 64 sites");
      for (size_t i = 0; i < sites->size(); ++i) SHOAL_TRY(site((*sites)[i], o.at("sites"), i));
      if (std::all_of(f_.site_nat.begin(), f_.site_nat.end(),
                      [](const auto& n) { return !n.empty(); }))
        return Status::bad_key(o.at("sites"),
                               "puts every site behind NAT: hosts behind NAT join through a "
                               "public host, so one site at least needs none");
    }
    SHOAL_TRY(o.text("backend", f_.backend, 16));
    if (f_.backend != "vxlan" && f_.backend != "host-gw" && f_.backend != "udp" &&
        f_.backend != "auto")
      return Status::bad_key(
          o.at("backend"), "must be vxlan, host-gw, udp or auto, got " + shoal::quoted(f_.backend));
    SHOAL_TRY(o.flag("encrypt", f_.encrypt));
    SHOAL_TRY(o.whole("pods_per_host", f_.pods_per_host, 0, 16));
    SHOAL_TRY(o.text("network", f_.network, 64));
    SHOAL_TRY(o.whole("subnet_len", f_.subnet_len, 8, 30));
    return o.number("lease_ttl_s", f_.lease_ttl_s, 0, kMaxSeconds);
  }

  // A site: its name, or {"name": NAME, "nat": "cone" | "symmetric", "hosts": N}, where nat
  // puts it behind a NAT router and hosts fixes how many hosts it holds.
  Status site(const Json& s, const std::string& list, size_t i) {
    const std::string path = list + "[" + std::to_string(i) + "]";
    std::string name, nat;
    size_t hosts = 0;
    bool routed = false;
    if (s.is_string()) {
      name = s.get<std::string>();
    } else {
      JsonObject o(s, path);
      SHOAL_TRY(o.only({"name", "nat", "routed", "hosts"}));
      SHOAL_TRY(o.text("name", name, 64));
      SHOAL_TRY(o.text("nat", nat, 16));
      if (!nat.empty() && nat != "cone" && nat != "symmetric")
        return Status::bad_key(o.at("nat"), "must be cone or symmetric, got " + shoal::quoted(nat));
      SHOAL_TRY(o.flag("routed", routed));
      if (routed && !nat.empty())
        return Status::bad_key(o.at("routed"),
                               "and nat exclude each other: a NAT router is a router already");
      SHOAL_TRY(o.whole("hosts", hosts, 1, kMaxScenarioHosts));
    }
    if (name.empty() || name.size() > 32)
      return Status::bad_key(path,
                             "must be a site name of 1 to 32 bytes, or an object with "
                             "\"name\" (and \"nat\" or \"hosts\"), got " +
                                 shown(s));
    if (std::count(f_.sites.begin(), f_.sites.end(), name))
      return Status::bad_key(path, "names site " + shoal::quoted(name) + " twice");
    f_.sites.push_back(name);
    f_.site_nat.push_back(nat);
    f_.site_routed.push_back(routed);
    site_hosts_.push_back(hosts);
    return {};
  }

  // Hosts go to the sites in order: a site with a host count of its own gets that many, and
  // the others share the rest evenly (host i of the shared ones to share i * sites / rest).
  Status split_sites() {
    if (f_.sites.empty()) {
      f_.sites.push_back("site");
      f_.site_nat.push_back("");
      f_.site_routed.push_back(false);
      site_hosts_.push_back(0);
    }
    size_t fixed = 0, sharing = 0;
    for (size_t n : site_hosts_) {
      fixed += n;
      sharing += n == 0;
    }
    const size_t rest = fixed < f_.hosts ? f_.hosts - fixed : 0;
    if (fixed > f_.hosts || (sharing > 0 && rest < sharing) || (sharing == 0 && fixed != f_.hosts))
      return Status::bad_key(
          "topology.sites",
          "give " + std::to_string(fixed) + " hosts to sites of their own count, and " +
              std::to_string(sharing) + " sites share the rest of the run's " +
              std::to_string(f_.hosts) +
              ": each site needs a host at least, and the counts must add up (leave one site "
              "without \"hosts\" to take what is left)");
    f_.site_of_host.clear();
    size_t shared = 0;
    for (size_t s = 0; s < f_.sites.size(); ++s) {
      size_t count = site_hosts_[s];
      if (count == 0) {  // ceil((k + 1) * rest / sharing) - ceil(k * rest / sharing)
        auto up_to = [&](size_t k) { return (k * rest + sharing - 1) / sharing; };
        count = up_to(shared + 1) - up_to(shared);
        ++shared;
      }
      f_.site_of_host.insert(f_.site_of_host.end(), count, static_cast<uint32_t>(s));
    }
    return {};
  }

  Status checks(const Json& v) {
    JsonObject o(v, "checks");
    SHOAL_TRY(
        o.only({"converge_within_s", "members_agree", "owners_agree", "no_overlap",
                "no_false_deaths", "databases_open", "pods_reach", "workload", "max_renumbered"}));
    auto& c = f_.checks;
    SHOAL_TRY(o.number("converge_within_s", c.converge_within_s, 0.1, 3600));
    SHOAL_TRY(o.flag("members_agree", c.members_agree));
    SHOAL_TRY(o.flag("owners_agree", c.owners_agree));
    SHOAL_TRY(o.flag("no_overlap", c.no_overlap));
    SHOAL_TRY(o.flag("no_false_deaths", c.no_false_deaths));
    SHOAL_TRY(o.flag("databases_open", c.databases_open));
    SHOAL_TRY(o.flag("pods_reach", c.pods_reach));
    SHOAL_TRY(o.flag("workload", c.workload));
    return o.whole("max_renumbered", c.max_renumbered, 0, kMaxScenarioHosts);
  }

  Status event(const Json& v, const std::string& path, double scale) {
    JsonObject o(v, path);
    SHOAL_TRY(o.only({"at_s", "fault", "for_s", "hosts", "host", "groups", "shape", "from", "to",
                      "percent", "mbit", "ms", "period_s", "every_s", "down_s", "offset_s",
                      "at_most", "note"}));
    std::string fault;
    SHOAL_TRY(o.text("fault", fault, 32));
    if (!o.find("at_s"))
      return Status::bad_key(o.at("at_s"), "is missing (seconds from the start)");
    FaultSpec e;
    SHOAL_TRY(o.number("at_s", e.at_s, 0, kMaxSeconds));
    SHOAL_TRY(o.number("for_s", e.for_s, 0, kMaxSeconds));
    e.at_s *= scale;
    e.for_s *= scale;
    const size_t n = f_.hosts;
    auto need = [&](std::string_view key) -> Result<const Json*> {
      if (const Json* found = o.find(key)) return found;
      return Status::bad_key(o.at(key), "is missing: a " + fault + " needs it");
    };
    auto host_set = [&](std::string_view key, std::vector<uint32_t>& out,
                        const std::vector<uint32_t>* others_of = nullptr) -> Status {
      auto found = need(key);
      if (!found.ok()) return found.error();
      return hosts(**found, o.at(key), out, others_of);
    };
    if (fault == "partition" || fault == "flap") {
      e.kind = FaultSpec::Kind::kCut;
      std::string shape;
      SHOAL_TRY(o.text("shape", shape, 32));
      if (const Json* groups = o.find("groups")) {
        if (!shape.empty()) return Status::bad_key(o.at("shape"), "and groups exclude each other");
        if (!groups->is_array() || groups->size() < 2 || groups->size() > 64)
          return Status::bad_key(o.at("groups"), "must list 2 to 64 host sets");
        std::vector<uint32_t> seen;
        for (size_t g = 0; g < groups->size(); ++g) {
          std::vector<uint32_t> members;
          SHOAL_TRY(hosts((*groups)[g], o.at("groups") + "[" + std::to_string(g) + "]", members));
          for (uint32_t h : members)
            if (std::count(seen.begin(), seen.end(), h))
              return Status::bad_key(o.at("groups"), "puts " + host_name(h) + " in two groups");
          seen.insert(seen.end(), members.begin(), members.end());
          e.groups.push_back(std::move(members));
        }
        e.text = "partition";
        for (const auto& g : e.groups)
          e.text += (&g == &e.groups[0] ? " " : " | ") + describe(g, n);
      } else if (shape == "halves" || shape == "majority-minority") {
        const uint32_t cut = static_cast<uint32_t>(shape == "halves" ? n / 2 : n / 2 + 1);
        e.groups.resize(2);
        for (uint32_t i = 0; i < n; ++i) e.groups[i < cut ? 0 : 1].push_back(i);
        e.text = "partition " + shape + " " + describe(e.groups[0], n) + " | " +
                 describe(e.groups[1], n);
      } else if (shape == "one-off") {
        std::vector<uint32_t> alone;
        SHOAL_TRY(host_set("host", alone));
        e.groups = {alone, {}};
        for (uint32_t i = 0; i < n; ++i)
          if (!std::count(alone.begin(), alone.end(), i)) e.groups[1].push_back(i);
        e.text = "partition one-off " + describe(alone, n);
      } else if (shape == "bridge") {
        // Two halves that only the host between them reaches both of (Jepsen's bridge).
        e.shape = FaultSpec::Shape::kBridge;
        e.bridge = static_cast<uint32_t>(n / 2);
        e.groups.resize(2);
        for (uint32_t i = 0; i < n; ++i)
          if (i != e.bridge) e.groups[i < e.bridge ? 0 : 1].push_back(i);
        e.text = "partition bridge " + describe(e.groups[0], n) + " | " + describe(e.groups[1], n) +
                 " through " + host_name(e.bridge);
      } else if (shape == "ring") {
        // Each host reaches the hosts near it around the ring: a majority each, and no
        // two hosts the same majority (Jepsen's majorities-ring; sim_run.cc, cut_of).
        e.shape = FaultSpec::Shape::kRing;
        e.text = "partition ring of majorities over " + std::to_string(n) + " hosts";
      } else {
        return Status::bad_key(o.at(shape.empty() ? "groups" : "shape"),
                               shape.empty() ? "is missing: a partition needs groups or a shape"
                                             : "must be halves, majority-minority, one-off, bridge "
                                               "or ring, got " +
                                                   shoal::quoted(shape));
      }
      if (fault == "flap") return flap(o, e, scale);
    } else if (fault == "one-way") {
      e.kind = FaultSpec::Kind::kCut;
      e.both_ways = false;
      SHOAL_TRY(host_set("from", e.from));
      SHOAL_TRY(host_set("to", e.to, &e.from));
      e.text = "one-way " + describe(e.from, n) + " -/-> " + describe(e.to, n);
    } else if (fault == "loss") {
      e.kind = FaultSpec::Kind::kLoss;
      double percent = -1;
      SHOAL_TRY(o.number("percent", percent, 0, 100));
      if (percent < 0) return Status::bad_key(o.at("percent"), "is missing: a loss needs it");
      e.loss = percent / 100;
      if (o.find("from") || o.find("to")) {  // a lossy link between two sets, both ways
        if (o.find("hosts"))
          return Status::bad_key(o.at("hosts"), "and from/to exclude each other in a loss");
        e.both_ways = true;
        SHOAL_TRY(host_set("from", e.from));
        SHOAL_TRY(host_set("to", e.to, &e.from));
        for (uint32_t h : e.to)
          if (std::find(e.from.begin(), e.from.end(), h) != e.from.end())
            return Status::bad_key(o.at("to"), "shares " + host_name(h) + " with from");
        e.text = "loss " + JsonObject::fmt(percent) + "% between " + describe(e.from, n) + " and " +
                 describe(e.to, n);
      } else {
        SHOAL_TRY(host_set("hosts", e.hosts));
        e.text = "loss " + JsonObject::fmt(percent) + "% at " + describe(e.hosts, n);
      }
    } else if (fault == "bandwidth") {
      e.kind = FaultSpec::Kind::kBandwidth;
      SHOAL_TRY(o.number("mbit", e.mbit, 0.1, 100000));
      if (e.mbit <= 0)
        return Status::bad_key(o.at("mbit"), "is missing: a bandwidth limit needs it");
      SHOAL_TRY(host_set("hosts", e.hosts));
      e.text = "bandwidth " + JsonObject::fmt(e.mbit) + " Mbit/s at " + describe(e.hosts, n);
    } else if (fault == "delay") {
      e.kind = FaultSpec::Kind::kDelay;
      SHOAL_TRY(o.number("ms", e.delay_ms, 1, 60000));
      if (e.delay_ms <= 0) return Status::bad_key(o.at("ms"), "is missing: a delay needs it");
      SHOAL_TRY(host_set("hosts", e.hosts));
      e.text = "delay " + JsonObject::fmt(e.delay_ms) + " ms at " + describe(e.hosts, n);
    } else if (fault == "crash" || fault == "restart" || fault == "start" || fault == "freeze" ||
               fault == "wipe") {
      SHOAL_TRY(host_set("hosts", e.hosts));
      e.kind = fault == "crash"    ? FaultSpec::Kind::kCrash
               : fault == "freeze" ? FaultSpec::Kind::kFreeze
               : fault == "wipe"   ? FaultSpec::Kind::kWipe
                                   : FaultSpec::Kind::kRestart;
      if (e.kind == FaultSpec::Kind::kFreeze && e.for_s <= 0)
        return Status::bad_key(o.at("for_s"), "is missing: a freeze needs to end");
      e.text = fault + " " + describe(e.hosts, n);
    } else if (fault == "clock") {
      e.kind = FaultSpec::Kind::kClock;
      SHOAL_TRY(host_set("hosts", e.hosts));
      SHOAL_TRY(o.number("offset_s", e.offset_s, -kMaxSeconds, kMaxSeconds));
      e.text = "clock " + describe(e.hosts, n) + " " + (e.offset_s >= 0 ? "+" : "") +
               JsonObject::fmt(e.offset_s) + " s";
    } else if (fault == "rolling-restart") {
      return rolling_restart(o, e, scale);
    } else if (fault == "heal") {
      e.kind = FaultSpec::Kind::kHeal;
      e.text = "heal";
    } else if (fault == "nat-reset") {
      // A home router's restart: every mapping through it is gone at once, and its hosts
      // get new public ports.
      e.kind = FaultSpec::Kind::kNatReset;
      if (e.for_s > 0)
        return Status::bad_key(o.at("for_s"), "does not apply: a nat-reset is instant");
      SHOAL_TRY(host_set("hosts", e.hosts));
      for (uint32_t h : e.hosts)
        if (!f_.behind_nat(h))
          return Status::bad_key(
              o.at("hosts"), "names " + host_name(h) + ", which is behind no NAT (topology.sites)");
      e.text = "nat-reset in front of " + describe(e.hosts, n);
    } else {
      return Status::bad_key(
          o.at("fault"), fault.empty()
                             ? "is missing"
                             : shoal::quoted(fault) +
                                   " is not a fault; "
                                   "write partition, flap, one-way, loss, bandwidth, delay, crash, "
                                   "restart, start, rolling-restart, freeze, clock, wipe, "
                                   "nat-reset or heal");
    }
    return push(std::move(e), path);
  }

 private:
  Status push(FaultSpec e, const std::string& path) {
    if (f_.timeline.size() >= kMaxTimelineEvents)
      return Status::bad_key(
          path, "makes the timeline longer than " + std::to_string(kMaxTimelineEvents) + " events");
    f_.timeline.push_back(std::move(e));
    return {};
  }
  // A link that goes down and up: the cut for half of each period, over for_s.
  Status flap(const JsonObject& o, FaultSpec cut, double scale) {
    double period = 0;
    SHOAL_TRY(o.number("period_s", period, 0.2, 3600));
    if (period <= 0) return Status::bad_key(o.at("period_s"), "is missing: a flap needs it");
    if (cut.for_s <= 0) return Status::bad_key(o.at("for_s"), "is missing: a flap needs to end");
    period *= scale;
    const double end = cut.at_s + cut.for_s;
    const std::string text = "flap: " + cut.text;
    for (double t = cut.at_s; t < end; t += period) {
      FaultSpec one = cut;
      one.at_s = t;
      one.for_s = std::min(period / 2, end - t);
      one.text = text;
      one.timed = t + period >= end;
      SHOAL_TRY(push(std::move(one), o.at("period_s")));
    }
    return {};
  }
  // Each host in turn: crash, then start again down_s later; the next one every_s later.
  Status rolling_restart(const JsonObject& o, FaultSpec e, double scale) {
    std::vector<uint32_t> who;
    if (const Json* v = o.find("hosts")) {
      SHOAL_TRY(hosts(*v, o.at("hosts"), who));
    } else {
      for (uint32_t i = 0; i < f_.hosts; ++i) who.push_back(i);
    }
    // At most this many of them, spread evenly over the set: the same file then restarts
    // 10 hosts of 10 or 10 of 1,000.
    size_t at_most = who.size();
    SHOAL_TRY(o.whole("at_most", at_most, 1, kMaxScenarioHosts));
    if (who.size() > at_most) {
      std::vector<uint32_t> spread;
      for (size_t k = 0; k < at_most; ++k) spread.push_back(who[k * who.size() / at_most]);
      who = std::move(spread);
    }
    double every = 10, down = 2;
    SHOAL_TRY(o.number("every_s", every, 0.1, 3600));
    SHOAL_TRY(o.number("down_s", down, 0, 3600));
    every *= scale;
    down *= scale;
    if (down >= every) return Status::bad_key(o.at("down_s"), "must be shorter than every_s");
    for (size_t k = 0; k < who.size(); ++k) {
      FaultSpec crash;
      crash.kind = FaultSpec::Kind::kCrash;
      crash.at_s = e.at_s + static_cast<double>(k) * every;
      crash.hosts = {who[k]};
      crash.text = "rolling restart: crash " + host_name(who[k]);
      FaultSpec start = crash;
      start.kind = FaultSpec::Kind::kRestart;
      start.at_s += down;
      start.text = "rolling restart: start " + host_name(who[k]);
      SHOAL_TRY(push(std::move(crash), o.at("hosts")));
      SHOAL_TRY(push(std::move(start), o.at("hosts")));
    }
    return {};
  }

  static bool host_range(std::string_view s, uint32_t& lo, uint32_t& hi) {
    auto one = [](std::string_view part, uint32_t& out) {
      if (part.size() < 2 || part[0] != 'h') return false;
      uint32_t v = 0;
      auto [end, ec] = std::from_chars(part.data() + 1, part.data() + part.size(), v);
      if (ec != std::errc() || end != part.data() + part.size() || v == 0) return false;
      out = v - 1;
      return true;
    };
    const size_t dash = s.find('-');
    if (dash == std::string_view::npos) return one(s, lo) && one(s, hi);
    return one(s.substr(0, dash), lo) && one(s.substr(dash + 1), hi) && lo <= hi;
  }

  ScenarioFile& f_;
  std::vector<size_t> site_hosts_;  // per site: its own host count, 0 to share the rest
};

}  // namespace

std::string_view to_string(FaultSpec::Kind kind) {
  switch (kind) {
    case FaultSpec::Kind::kCut:
      return "cut";
    case FaultSpec::Kind::kLoss:
      return "loss";
    case FaultSpec::Kind::kBandwidth:
      return "bandwidth";
    case FaultSpec::Kind::kDelay:
      return "delay";
    case FaultSpec::Kind::kCrash:
      return "crash";
    case FaultSpec::Kind::kRestart:
      return "restart";
    case FaultSpec::Kind::kFreeze:
      return "freeze";
    case FaultSpec::Kind::kClock:
      return "clock";
    case FaultSpec::Kind::kWipe:
      return "wipe";
    case FaultSpec::Kind::kHeal:
      return "heal";
    case FaultSpec::Kind::kNatReset:
      return "nat-reset";
  }
  return "?";
}

Result<ScenarioFile> parse_scenario(std::string_view source, std::string_view text,
                                    ScenarioSize size) {
  const std::string where(source);
  if (text.size() > kMaxScenarioBytes)
    return Status::invalid_argument(where + ": larger than " +
                                    std::to_string(kMaxScenarioBytes >> 10) + " KiB");
  auto tree = json::parse_strict(source, text, {.max_depth = 8, .depth_hint = "scenarios need 4"});
  if (!tree.ok()) return tree.error();
  const Json& root = tree.value();
  ScenarioFile f;
  Parser parser(f);
  auto in_file = [&](Status s) { return s.prefixed(where); };
  JsonObject o(root, "");
  // "$schema" names chaos/scenario.schema.json for editors; the file is read all the same.
  if (Status s = o.only({"$schema", "name", "summary", "seed", "topology", "duration_s", "short",
                         "timeline", "checks", "workload"});
      !s.ok())
    return in_file(s);
  if (Status s = o.text("name", f.name, 64); !s.ok()) return in_file(s);
  if (f.name.empty()) return in_file(Status::bad_key("name", "is missing"));
  if (Status s = o.text("summary", f.summary, 2000); !s.ok()) return in_file(s);
  if (Status s = o.whole("seed", f.seed, 0, int64_t{1} << 53); !s.ok()) return in_file(s);
  if (Status s = o.number("duration_s", f.duration_s, 1, kMaxSeconds); !s.ok()) return in_file(s);

  double scale = 1;
  size_t short_hosts = 0;
  if (const Json* s = o.find("short")) {
    JsonObject sh(*s, "short");
    if (Status st = sh.only({"hosts", "time_scale"}); !st.ok()) return in_file(st);
    if (Status st = sh.whole("hosts", short_hosts, 2, kMaxScenarioHosts); !st.ok())
      return in_file(st);
    double time_scale = 1;
    if (Status st = sh.number("time_scale", time_scale, 0.01, 1); !st.ok()) return in_file(st);
    if (size.short_form) scale = time_scale;
  }
  const Json* topology = o.find("topology");
  if (!topology) return in_file(Status::bad_key("topology", "is missing"));
  ScenarioSize sized = size;
  if (size.short_form && !size.hosts && short_hosts) sized.hosts = short_hosts;
  if (Status s = parser.topology(*topology, sized, scale); !s.ok()) return in_file(s);
  if (f.sites.size() > f.hosts)
    return in_file(Status::bad_key("topology.sites", "lists more sites than there are hosts"));
  if (Status s = parser.split_sites(); !s.ok()) return in_file(s);
  f.duration_s *= scale;
  auto made = lease::NetworkConfig::make(lease::NetworkSpec{f.network, f.subnet_len});
  if (!made.ok()) return in_file(Status::bad_key("topology.network", made.error().message()));
  f.pool_size = made->candidates("").size();

  if (const Json* c = o.find("checks"))
    if (Status s = parser.checks(*c); !s.ok()) return in_file(s);
  if (const Json* w = o.find("workload")) {
    JsonObject wo(*w, "workload");
    ScenarioFile::Workload workload;
    if (Status s = wo.only({"start", "check", "every_s", "timeout_s"}); !s.ok()) return in_file(s);
    if (Status s = wo.text("start", workload.start, 4096); !s.ok()) return in_file(s);
    if (Status s = wo.text("check", workload.check, 4096); !s.ok()) return in_file(s);
    if (workload.check.empty()) return in_file(Status::bad_key("workload.check", "is missing"));
    if (Status s = wo.number("every_s", workload.every_s, 0.5, 600); !s.ok()) return in_file(s);
    if (Status s = wo.number("timeout_s", workload.timeout_s, 0.5, 600); !s.ok()) return in_file(s);
    const size_t slash = source.rfind('/');
    workload.dir = slash == std::string_view::npos ? "." : std::string(source.substr(0, slash));
    f.workload = std::move(workload);
  }
  const Json* timeline = o.find("timeline");
  if (timeline) {
    if (!timeline->is_array() || timeline->size() > kMaxTimelineEvents)
      return in_file(Status::bad_key(
          "timeline",
          "must be a list of at most " + std::to_string(kMaxTimelineEvents) + " events"));
    for (size_t i = 0; i < timeline->size(); ++i)
      if (Status s = parser.event((*timeline)[i], "timeline[" + std::to_string(i) + "]", scale);
          !s.ok())
        return in_file(s);
  }
  std::stable_sort(f.timeline.begin(), f.timeline.end(),
                   [](const FaultSpec& a, const FaultSpec& b) { return a.at_s < b.at_s; });
  for (const FaultSpec& e : f.timeline)
    if (e.at_s + e.for_s > f.duration_s)
      return in_file(Status::bad_key("timeline", "\"" + e.text + "\" runs past duration_s (" +
                                                     JsonObject::fmt(f.duration_s) + " s)"));
  return f;
}

std::vector<uint32_t> seed_hosts(const ScenarioFile& file) {
  // Never a host behind NAT: nobody outside its site could reach it to join.
  std::vector<uint32_t> seeds;
  for (uint32_t h = 0; h < file.hosts && seeds.size() < 3; ++h)
    if ((h == 0 || file.site_of_host[h] != file.site_of_host[h - 1]) && !file.behind_nat(h))
      seeds.push_back(h);
  for (uint32_t k = 1; k < 3 && seeds.size() < 3; ++k) {
    const auto h = static_cast<uint32_t>(k * file.hosts / 3);
    if (std::find(seeds.begin(), seeds.end(), h) == seeds.end() && !file.behind_nat(h))
      seeds.push_back(h);
  }
  for (uint32_t h = static_cast<uint32_t>(file.hosts); h-- > 0 && seeds.size() < 3;)
    if (std::find(seeds.begin(), seeds.end(), h) == seeds.end() && !file.behind_nat(h))
      seeds.push_back(h);
  return seeds;
}

std::vector<bool> late_joiners(const ScenarioFile& file) {
  std::vector<bool> late(file.hosts), touched(file.hosts);
  for (const FaultSpec& f : file.timeline)
    for (uint32_t h : f.hosts) {
      if (touched[h]) continue;
      touched[h] = true;
      if (f.kind == FaultSpec::Kind::kRestart) late[h] = true;
    }
  return late;
}

std::vector<TimelineAction> timeline_actions(const ScenarioFile& file) {
  std::vector<TimelineAction> actions;
  for (size_t i = 0; i < file.timeline.size(); ++i) {
    const FaultSpec& f = file.timeline[i];
    actions.push_back({f.at_s, i, false});
    if (f.for_s > 0) actions.push_back({f.at_s + f.for_s, i, true});
  }
  std::stable_sort(actions.begin(), actions.end(),
                   [](const TimelineAction& a, const TimelineAction& b) { return a.at < b.at; });
  return actions;
}

}  // namespace shoal::chaos
