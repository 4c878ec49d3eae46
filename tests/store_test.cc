// The SQLite store with real files: round trips, refusals of foreign and damaged files, and
// crash consistency under SIGKILL in the middle of transactions.
#include "store/store.h"

#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/rng.h"
#include "store/local_state.h"
#include "tests/sqlite_lock.h"
#include "tests/temp_dir.h"

using namespace shoal;
namespace fs = std::filesystem;
using shoal::test::TempDir;

namespace {

std::unique_ptr<store::Store> open_ok(const std::string& path) {
  auto v = store::Store::open(path);
  if (!v) FAIL("open failed: " << v.error().to_string());
  return std::move(v).value();
}

std::string open_error(const std::string& path) {
  auto v = store::Store::open(path);
  return v ? std::string("(opened)") : v.error().to_string();
}

lease::NodeRecord record(Rng& rng, uint64_t version) {
  lease::NodeRecord r;
  r.id = NodeId::random(rng);
  r.version = version;
  r.name = "host";
  r.underlay = IpAddress::v4(192, 0, 2, 7);
  r.claims = {{*Cidr::parse("198.18.3.0/24"), {1767225600000, 1}}};
  r.renewed_at = WallTime(std::chrono::milliseconds(1767225600000));
  return r;
}

}  // namespace

TEST_CASE("store round-trips identity, own record, table, evictions and peers") {
  TempDir dir;
  Rng rng(1);
  const std::string path = dir.file("shoal.db");
  NodeId id;
  lease::NodeRecord own = record(rng, 4), peer = record(rng, 9);
  {
    auto s = open_ok(path);
    id = s->node_id(rng).value();
    CHECK(s->save_own(own).ok());
    CHECK(s->save_table({peer}, {{peer.id, 3, peer.renewed_at}}).ok());
    CHECK(s->save_peers({*Endpoint::parse("192.0.2.9:7946")}).ok());
  }
  auto s = open_ok(path);
  CHECK(s->node_id(rng).value() == id);  // made once, then kept
  const auto result = s->load_leases();
  REQUIRE(result);
  CHECK(result->skipped == 0);
  const auto& loaded = result->leases;
  REQUIRE(loaded.own);
  CHECK(*loaded.own == own);
  REQUIRE(loaded.records.size() == 1);
  CHECK(loaded.records[0] == peer);
  REQUIRE(loaded.evictions.size() == 1);
  CHECK(loaded.evictions[0].up_to_version == 3);
  CHECK(s->load_peers().value() == std::vector<Endpoint>{*Endpoint::parse("192.0.2.9:7946")});
}

TEST_CASE("store refuses foreign, damaged and newer files, and leaves them as they were") {
  TempDir dir;
  SUBCASE("not a database") {
    const std::string path = dir.file("junk.db");
    std::ofstream(path) << std::string(8192, 'x');
    CHECK(open_error(path).find("not a SQLite database") != std::string::npos);
    CHECK(fs::file_size(path) == 8192);
  }
  SUBCASE("another program's database") {
    const std::string path = dir.file("other.db");
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES(1)", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    const std::string e = open_error(path);
    CHECK(e.find(path) == 0);
    CHECK(e.find("not shoal's") != std::string::npos);
  }
  SUBCASE("a newer shoal's database") {
    const std::string path = dir.file("newer.db");
    open_ok(path);
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    CHECK(open_error(path).find("newer shoal") != std::string::npos);
  }
  SUBCASE("a directory that does not exist") {
    CHECK(open_error(dir.file("missing/shoal.db")).find("cannot open") != std::string::npos);
  }
}

TEST_CASE("SIGKILL in the middle of writes never leaves a mix of old and new") {
  // A child rewrites 50 records (all with the same version) and its own record in a loop;
  // once it has committed at least once, we kill it at a random moment. Every time, the
  // file opens and all 50 records carry one version: each transaction landed whole or not
  // at all.
  TempDir dir;
  const std::string path = dir.file("kill.db");
  Rng rng(5);
  std::vector<lease::NodeRecord> records;
  for (int i = 0; i < 50; ++i) records.push_back(record(rng, 1));
  CHECK(open_ok(path)->save_table(records, {}).ok());  // the first whole state
  uint64_t highest = 1;
  for (int round = 0; round < 25; ++round) {
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::close(ready[0]);
      auto v = store::Store::open(path);
      if (!v) ::_exit(3);
      auto& s = **v;
      auto rows = records;
      const auto start = std::chrono::steady_clock::now();
      // Bounded in time: it is killed long before, but never outlives the test by much.
      const uint64_t first = 1000 * static_cast<uint64_t>(round + 1);
      for (uint64_t version = first;
           std::chrono::steady_clock::now() - start < std::chrono::seconds(20); ++version) {
        for (auto& r : rows) r.version = version;
        if (!s.save_table(rows, {}).ok()) ::_exit(4);
        rows[0].version = version;
        if (!s.save_own(rows[0]).ok()) ::_exit(5);
        if (version == first) {
          const char byte = 1;  // one whole write is in: the parent may shoot
          if (::write(ready[1], &byte, 1) != 1) ::_exit(6);
        }
      }
      ::_exit(0);
    }
    ::close(ready[1]);
    pollfd wait{ready[0], POLLIN, 0};
    const bool child_wrote = ::poll(&wait, 1, 20000) == 1;  // bounded: 20 s at most
    ::close(ready[0]);
    std::this_thread::sleep_for(std::chrono::milliseconds(rng.below(30)));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    REQUIRE(child_wrote);
    CHECK(WIFSIGNALED(status));

    auto s = open_ok(path);
    const auto loaded = s->load_leases().value().leases;
    REQUIRE(loaded.records.size() == 50);
    const uint64_t version = loaded.records[0].version;
    for (const auto& r : loaded.records) CHECK(r.version == version);
    CHECK(version >= highest);
    highest = version;
  }
  CHECK(highest >= 25000);  // the last child's first write at least
}

TEST_CASE("what the table forgot leaves the file: 10,000 short-lived nodes stay small") {
  // 100 saves of the whole table, each of 100 nodes never seen before (hosts that came and
  // went, and that garbage collection forgot): the file holds the last 100, not 10,000.
  TempDir dir;
  const std::string path = dir.file("churn.db");
  Rng rng(11);
  {
    auto s = open_ok(path);
    for (int round = 0; round < 100; ++round) {
      std::vector<lease::NodeRecord> rows;
      for (int i = 0; i < 100; ++i) rows.push_back(record(rng, 1));
      std::vector<lease::Eviction> evictions{{rows[0].id, 1, rows[0].renewed_at}};
      REQUIRE(s->save_table(rows, evictions).ok());
    }
  }
  auto reopened = open_ok(path);
  const auto loaded = reopened->load_leases().value().leases;
  CHECK(loaded.records.size() == 100);
  CHECK(loaded.evictions.size() == 1);
  std::error_code ec;
  const auto bytes = fs::file_size(path, ec) + fs::file_size(path + "-wal", ec);
  MESSAGE("file and WAL: " << bytes << " bytes");
  CHECK(bytes < 8u * 1024 * 1024);
}

TEST_CASE("local state is made once and read back; the incarnation always rises") {
  TempDir dir;
  Rng rng(7);
  const std::string path = dir.file("shoal.db");
  store::LocalState first;
  {
    auto s = open_ok(path);
    auto loaded = store::load_local_state(*s, rng, 1000);
    REQUIRE(loaded);
    first = *loaded;
    CHECK(first.identity_secret.empty());  // the caller makes one
    CHECK(first.incarnation == 1000);
    CHECK((first.vtep_mac[0] & 0x01) == 0);  // unicast
    CHECK((first.vtep_mac[0] & 0x02) == 2);  // locally administered
    REQUIRE(store::save_identity(*s, Bytes(32, 9)).ok());
  }
  auto s = open_ok(path);
  auto again = store::load_local_state(*s, rng, 900);  // the wall clock went back
  REQUIRE(again);
  CHECK(again->id == first.id);
  CHECK(again->vtep_mac == first.vtep_mac);
  CHECK(again->identity_secret == Bytes(32, 9));
  CHECK(again->incarnation == 1001);  // above the last one said, clock or not
  auto later = store::load_local_state(*s, rng, 5000);
  REQUIRE(later);
  CHECK(later->incarnation == 5000);

  SUBCASE("a damaged incarnation or MAC is an error that names the file, and stays") {
    const char* key = "incarnation";
    SUBCASE("incarnation") {}
    SUBCASE("vtep_mac") { key = "vtep_mac"; }
    REQUIRE(s->put(key, Bytes(3, 1)).ok());
    auto damaged = store::load_local_state(*s, rng, 6000);
    REQUIRE_FALSE(damaged);
    CHECK(damaged.error().message().find(path) != std::string::npos);
    CHECK(s->get(key).value() == Bytes(3, 1));
  }
}

TEST_CASE("a read that fails is an error, never 'absent': no new identity is minted") {
  TempDir dir;
  const std::string path = dir.file("shoal.db");
  Rng rng(21);
  auto s = open_ok(path);
  const NodeId id = s->node_id(rng).value();
  REQUIRE(s->save_peers({*Endpoint::parse("192.0.2.9:7946")}).ok());
  // Another hand takes the tables away under the open store (a damaged or foreign change):
  // every read now fails.
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &other) == SQLITE_OK);
  auto exec = [&](const char* sql) {
    REQUIRE(sqlite3_exec(other, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
  };
  exec(
      "ALTER TABLE meta RENAME TO meta_away; ALTER TABLE peers RENAME TO peers_away;"
      "ALTER TABLE records RENAME TO records_away");
  auto got = s->get("node_id");
  REQUIRE_FALSE(got);
  CHECK(got.error().message().find(path) != std::string::npos);
  auto again = s->node_id(rng);
  REQUIRE_FALSE(again);  // before, this minted a fresh id
  CHECK_FALSE(s->load_peers());
  CHECK_FALSE(s->load_leases());
  CHECK_FALSE(store::load_local_state(*s, rng, 1000));
  exec(
      "ALTER TABLE meta_away RENAME TO meta; ALTER TABLE peers_away RENAME TO peers;"
      "ALTER TABLE records_away RENAME TO records");
  sqlite3_close(other);
  CHECK(s->node_id(rng).value() == id);                  // the same host as before
  CHECK(s->get("no such key").value() == std::nullopt);  // absent is still just absent
}

TEST_CASE("a database another process holds locked: open waits its timeout, then says so") {
  TempDir dir;
  const std::string path = dir.file("shoal.db");
  Rng rng(22);
  NodeId id;
  {
    auto s = open_ok(path);
    id = s->node_id(rng).value();
  }
  {
    test::SqliteLock locker(path);
    auto locked = store::Store::open(path, std::chrono::milliseconds(200));
    REQUIRE_FALSE(locked);
    CHECK(locked.error().message().find(path) != std::string::npos);
    CHECK(locked.error().message().find("locked") != std::string::npos);
  }
  CHECK(open_ok(path)->node_id(rng).value() == id);
}
