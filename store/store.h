// Store keeps one node's durable state in one SQLite file: identity (node id and other
// small values), our own lease record, every peer's record and the evictions, and the
// peers we knew (to rejoin without a seed).
//
// Promises: WAL mode, fsync on every commit (synchronous=FULL), every multi-row change in
// one transaction, so after a crash the file holds the old state or the new, never a mix;
// save_own() returns only once the record is on disk. A file that is not a database, is
// corrupt, belongs to another program or to a newer shoal is refused with an error that
// names the file and says what to do; it is never overwritten.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/endpoint.h"
#include "common/node_id.h"
#include "common/status.h"
#include "lease/lease_core.h"

struct sqlite3;

namespace shoal::store {

class Store {
 public:
  static constexpr int kSchemaVersion = 1;
  static constexpr int32_t kApplicationId = 0x73686f61;  // "shoa"

  // Opens the database at `path`, creating it (and nothing else) if it does not exist. A
  // database another process holds locked is waited for up to `busy_timeout`, then an error.
  static Result<std::unique_ptr<Store>> open(
      const std::string& path, std::chrono::milliseconds busy_timeout = std::chrono::seconds(5));
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const { return path_; }

  // Small named values: the node id, the identity key. An absent key is an empty optional;
  // a read that fails is an error, never "absent".
  Result<std::optional<Bytes>> get(const std::string& key);
  Status put(const std::string& key, ByteView value);
  // The node id, made and stored on the first start. A read that fails is an error: minting
  // a new id then would make this host a stranger to its cluster, with a second lease.
  Result<NodeId> node_id(Rng& rng);

  // Our own record, durable when this returns without error.
  Status save_own(const lease::NodeRecord& record);
  // Peers' records and evictions: the whole table, in one transaction. Rows of nodes not in
  // `records` (or `evictions`) are deleted, so what the table forgot leaves the file too.
  Status save_table(const std::vector<lease::NodeRecord>& records,
                    const std::vector<lease::Eviction>& evictions);
  // Everything LeaseCore needs at start. Rows that fail to decode are skipped and counted;
  // a read that fails is an error.
  struct LoadedLeases {
    lease::StoredLeases leases;
    size_t skipped = 0;  // rows that did not decode
  };
  Result<LoadedLeases> load_leases();

  Status save_peers(const std::vector<Endpoint>& peers);
  // The peers we knew. Rows that do not parse are skipped; a read that fails is an error.
  Result<std::vector<Endpoint>> load_peers();

 private:
  Store(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  Status migrate();
  Status error(const std::string& what) const;  // io_error "<path>: <what>: <sqlite message>"

  std::string path_;
  sqlite3* db_;
};

}  // namespace shoal::store
