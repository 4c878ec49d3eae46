// Another process's hold on a shoal database, for tests of what the agent and the store do
// when they cannot read it: an exclusive lock (with a write pending) that every other
// connection waits for, then fails on. Released when this goes away.
#pragma once

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <string>

namespace shoal::test {

class SqliteLock {
 public:
  explicit SqliteLock(const std::string& path) {
    REQUIRE(sqlite3_open(path.c_str(), &db_) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db_,
                         "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE;"
                         "INSERT INTO peers(address) VALUES('192.0.2.99:7946')",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
  }
  ~SqliteLock() {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(db_);
  }
  SqliteLock(const SqliteLock&) = delete;
  SqliteLock& operator=(const SqliteLock&) = delete;

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace shoal::test
