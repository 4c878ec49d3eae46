#include "store/store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include "common/rng.h"

namespace shoal::store {
namespace {

// One prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  bool ok() const { return rc_ == SQLITE_OK; }
  Statement& bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& bind(int i, ByteView v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  int step() { return sqlite3_step(stmt_); }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }
  Bytes blob(int col) const {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
    return Bytes(p, p + sqlite3_column_bytes(stmt_, col));
  }
  std::string text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : "";
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back unless commit() succeeded.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {
    began_ = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  ~Transaction() {
    if (began_ && !done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  bool began() const { return began_; }
  bool commit() {
    done_ = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
    return done_;
  }

 private:
  sqlite3* db_;
  bool began_ = false, done_ = false;
};

int64_t pragma_int(sqlite3* db, const char* sql, int* rc) {
  Statement s(db, sql);
  if (!s.ok()) {
    *rc = sqlite3_errcode(db);
    return 0;
  }
  *rc = s.step();
  const int64_t v = *rc == SQLITE_ROW ? s.integer(0) : 0;
  if (*rc == SQLITE_ROW) *rc = SQLITE_OK;
  return v;
}

constexpr const char* kSchemaV1 = R"sql(
  CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
  CREATE TABLE own_record (id INTEGER PRIMARY KEY CHECK (id = 1),
                           version INTEGER NOT NULL, record BLOB NOT NULL);
  CREATE TABLE records (node BLOB PRIMARY KEY, version INTEGER NOT NULL, record BLOB NOT NULL);
  CREATE TABLE evictions (node BLOB PRIMARY KEY, up_to_version INTEGER NOT NULL,
                          evicted_at_ms INTEGER NOT NULL);
  CREATE TABLE peers (address TEXT PRIMARY KEY);
)sql";

}  // namespace

Result<std::unique_ptr<Store>> Store::open(const std::string& path,
                                           std::chrono::milliseconds busy_timeout) {
  struct stat st {};
  const bool existed = ::stat(path.c_str(), &st) == 0 && st.st_size > 0;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    std::string message =
        path + ": cannot open the database: " + (db ? sqlite3_errmsg(db) : "out of memory") +
        " (check that the directory exists and is writable)";
    sqlite3_close(db);
    return Status::io_error(std::move(message));
  }
  std::unique_ptr<Store> store(new Store(path, db));
  sqlite3_busy_timeout(db, static_cast<int>(busy_timeout.count()));
  int rc = SQLITE_OK;
  const int64_t app_id = pragma_int(db, "PRAGMA application_id", &rc);
  if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT)
    return Status::corruption(
        path +
        ": not a SQLite database, or a corrupt one. shoal will not overwrite it: move it "
        "away (the node then starts with a new identity and rejoins), or restore a backup");
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
    return Status::unavailable(path +
                               ": the database is locked by another process (is another shoal "
                               "agent using this data dir?); nothing was changed");
  if (rc != SQLITE_OK) return store->error("cannot read the database header");
  if (existed && app_id != kApplicationId) {
    const int64_t tables = pragma_int(db, "SELECT count(*) FROM sqlite_master", &rc);
    if (app_id != 0 || tables > 0)
      return Status::invalid_argument(
          path + ": a SQLite database that is not shoal's (application_id " +
          std::to_string(app_id) + "). Point shoal's data dir elsewhere, or move the file away");
  }
  {
    Statement check(db, "PRAGMA quick_check");
    if (!check.ok() || check.step() != SQLITE_ROW || check.text(0) != "ok")
      return Status::corruption(
          path +
          ": the database is corrupt (quick_check failed). shoal will not overwrite it: "
          "restore a backup, or move it away to start this node afresh");
  }
  if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON",
                   nullptr, nullptr, nullptr) != SQLITE_OK)
    return store->error("cannot switch to WAL mode");
  if (Status migrated = store->migrate(); !migrated.ok()) return migrated;
  return store;
}

Store::~Store() { sqlite3_close(db_); }

Status Store::error(const std::string& what) const {
  return Status::io_error(path_ + ": " + what + ": " + sqlite3_errmsg(db_));
}

Status Store::migrate() {
  int rc = SQLITE_OK;
  const int64_t version = pragma_int(db_, "PRAGMA user_version", &rc);
  if (rc != SQLITE_OK) return error("cannot read the schema version");
  if (version > kSchemaVersion)
    return Status::unsupported(path_ + ": written by a newer shoal (schema " +
                               std::to_string(version) + ", this one knows up to " +
                               std::to_string(kSchemaVersion) + "). Upgrade shoal");
  if (version == kSchemaVersion) return {};
  // Each step moves the schema up by one, inside the same transaction as its version bump.
  Transaction tx(db_);
  if (!tx.began()) return error("cannot start the schema migration");
  if (version < 1) {
    if (sqlite3_exec(db_, kSchemaV1, nullptr, nullptr, nullptr) != SQLITE_OK)
      return error("cannot create the schema");
  }
  const std::string bump = "PRAGMA user_version = " + std::to_string(kSchemaVersion) +
                           "; PRAGMA application_id = " + std::to_string(kApplicationId);
  if (sqlite3_exec(db_, bump.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
    return error("cannot record the schema version");
  if (!tx.commit()) return error("cannot commit the schema migration");
  return {};
}

Result<std::optional<Bytes>> Store::get(const std::string& key) {
  Statement s(db_, "SELECT value FROM meta WHERE key = ?");
  if (!s.ok()) return error("cannot prepare a read of " + key);
  s.bind(1, key);
  switch (s.step()) {
    case SQLITE_ROW:
      return std::optional<Bytes>(s.blob(0));
    case SQLITE_DONE:
      return std::optional<Bytes>();
    default:
      return error("cannot read " + key);
  }
}

Status Store::put(const std::string& key, ByteView value) {
  Statement s(db_,
              "INSERT INTO meta(key, value) VALUES(?, ?) "
              "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  if (!s.ok()) return error("cannot prepare a write");
  s.bind(1, key).bind(2, value);
  if (s.step() != SQLITE_DONE) return error("cannot write " + key);
  return {};
}

Result<NodeId> Store::node_id(Rng& rng) {
  auto read = get("node_id");
  if (!read) return read.error();
  if (const auto& stored = *read) {
    if (auto id = NodeId::from_bytes(*stored)) return *id;
    return Status::corruption(path_ + ": the stored node id is damaged (" +
                              std::to_string(stored->size()) +
                              " bytes). Restore a backup, or move the file away to start afresh");
  }
  const NodeId id = NodeId::random(rng);
  if (Status stored = put("node_id", id.view()); !stored.ok()) return stored;
  return id;
}

Status Store::save_own(const lease::NodeRecord& record) {
  Statement s(db_,
              "INSERT INTO own_record(id, version, record) VALUES(1, ?, ?) "
              "ON CONFLICT(id) DO UPDATE SET version = excluded.version, "
              "record = excluded.record");
  if (!s.ok()) return error("cannot prepare a write");
  const Bytes blob = lease::encode(record);
  s.bind(1, static_cast<int64_t>(record.version)).bind(2, blob);
  // A lone statement is its own transaction; synchronous=FULL makes its commit an fsync.
  if (s.step() != SQLITE_DONE) return error("cannot save our own record");
  return {};
}

Status Store::save_table(const std::vector<lease::NodeRecord>& records,
                         const std::vector<lease::Eviction>& evictions) {
  Transaction tx(db_);
  if (!tx.began()) return error("cannot start a transaction");
  Statement r(db_,
              "INSERT INTO records(node, version, record) VALUES(?, ?, ?) "
              "ON CONFLICT(node) DO UPDATE SET version = excluded.version, "
              "record = excluded.record");
  Statement e(db_,
              "INSERT INTO evictions(node, up_to_version, evicted_at_ms) VALUES(?, ?, ?) "
              "ON CONFLICT(node) DO UPDATE SET up_to_version = excluded.up_to_version, "
              "evicted_at_ms = excluded.evicted_at_ms");
  // The set given is the whole table: rows of nodes it no longer holds (the table's garbage
  // collection forgot them) are deleted in the same transaction, so the file does not grow
  // with every host that ever came and went.
  if (sqlite3_exec(db_,
                   "CREATE TEMP TABLE IF NOT EXISTS kept_records(node BLOB PRIMARY KEY);"
                   "CREATE TEMP TABLE IF NOT EXISTS kept_evictions(node BLOB PRIMARY KEY);"
                   "DELETE FROM kept_records; DELETE FROM kept_evictions;",
                   nullptr, nullptr, nullptr) != SQLITE_OK)
    return error("cannot prepare the sweep");
  Statement kr(db_, "INSERT OR IGNORE INTO kept_records(node) VALUES(?)");
  Statement ke(db_, "INSERT OR IGNORE INTO kept_evictions(node) VALUES(?)");
  if (!r.ok() || !e.ok() || !kr.ok() || !ke.ok()) return error("cannot prepare a write");
  for (const auto& record : records) {
    const Bytes blob = lease::encode(record);
    r.bind(1, record.id.view()).bind(2, static_cast<int64_t>(record.version)).bind(3, blob);
    if (r.step() != SQLITE_DONE) return error("cannot save a record");
    r.reset();
    kr.bind(1, record.id.view());
    if (kr.step() != SQLITE_DONE) return error("cannot save a record");
    kr.reset();
  }
  for (const auto& ev : evictions) {
    e.bind(1, ev.id.view())
        .bind(2, static_cast<int64_t>(ev.up_to_version))
        .bind(3, static_cast<int64_t>(ev.evicted_at.time_since_epoch().count()));
    if (e.step() != SQLITE_DONE) return error("cannot save an eviction");
    e.reset();
    ke.bind(1, ev.id.view());
    if (ke.step() != SQLITE_DONE) return error("cannot save an eviction");
    ke.reset();
  }
  if (sqlite3_exec(db_,
                   "DELETE FROM records WHERE node NOT IN (SELECT node FROM kept_records);"
                   "DELETE FROM evictions WHERE node NOT IN (SELECT node FROM kept_evictions);",
                   nullptr, nullptr, nullptr) != SQLITE_OK)
    return error("cannot delete forgotten records");
  if (!tx.commit()) return error("cannot commit");
  return {};
}

Result<Store::LoadedLeases> Store::load_leases() {
  LoadedLeases loaded;
  lease::StoredLeases& out = loaded.leases;
  size_t& bad = loaded.skipped;
  const lease::RecordLimits limits;
  int rc = SQLITE_DONE;
  {
    Statement s(db_, "SELECT record FROM own_record WHERE id = 1");
    if (!s.ok()) return error("cannot read our own record");
    if ((rc = s.step()) == SQLITE_ROW) {
      if (auto own = lease::decode_record(s.blob(0), limits)) {
        out.own = std::move(own).value();
      } else {
        ++bad;
      }
    } else if (rc != SQLITE_DONE) {
      return error("cannot read our own record");
    }
  }
  {
    Statement s(db_, "SELECT record FROM records");
    if (!s.ok()) return error("cannot read the lease records");
    while ((rc = s.step()) == SQLITE_ROW) {
      if (auto r = lease::decode_record(s.blob(0), limits)) {
        out.records.push_back(std::move(*r));
      } else {
        ++bad;
      }
    }
    if (rc != SQLITE_DONE) return error("cannot read the lease records");
  }
  {
    Statement s(db_, "SELECT node, up_to_version, evicted_at_ms FROM evictions");
    if (!s.ok()) return error("cannot read the evictions");
    while ((rc = s.step()) == SQLITE_ROW) {
      auto id = NodeId::from_bytes(s.blob(0));
      if (!id || s.integer(1) <= 0) {
        ++bad;
        continue;
      }
      out.evictions.push_back({*id, static_cast<uint64_t>(s.integer(1)),
                               WallTime(std::chrono::milliseconds(s.integer(2)))});
    }
    if (rc != SQLITE_DONE) return error("cannot read the evictions");
  }
  return loaded;
}

Status Store::save_peers(const std::vector<Endpoint>& peers) {
  Transaction tx(db_);
  if (!tx.began()) return error("cannot start a transaction");
  if (sqlite3_exec(db_, "DELETE FROM peers", nullptr, nullptr, nullptr) != SQLITE_OK)
    return error("cannot clear the peer list");
  Statement s(db_, "INSERT OR IGNORE INTO peers(address) VALUES(?)");
  if (!s.ok()) return error("cannot prepare a write");
  for (const auto& p : peers) {
    s.bind(1, p.to_string());
    if (s.step() != SQLITE_DONE) return error("cannot save a peer");
    s.reset();
  }
  if (!tx.commit()) return error("cannot commit");
  return {};
}

Result<std::vector<Endpoint>> Store::load_peers() {
  std::vector<Endpoint> out;
  Statement s(db_, "SELECT address FROM peers");
  if (!s.ok()) return error("cannot read the known peers");
  int rc = SQLITE_DONE;
  while ((rc = s.step()) == SQLITE_ROW)
    if (auto e = Endpoint::parse(s.text(0))) out.push_back(*e);
  if (rc != SQLITE_DONE) return error("cannot read the known peers");
  return out;
}

}  // namespace shoal::store
