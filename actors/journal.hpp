// SPDX-License-Identifier: MIT
#pragma once

// The journal's storage: one SQLite database (WAL mode), one keyed table.
// Not an actor and not thread-safe: the store actor (store.hpp) owns it once
// the engine runs; before that, spawn_engine reads it to restore the state.
//
//   auto j = journal::open("registrar-data/registrar.db", durability::sync);
//   if (!j) { print(j.error()); exit(1); }   // names the file and the cause
//   (*j)->write(batch.entries);              // one transaction
//   (*j)->scan(journal_table::users, [](auto key, auto bytes) { ... });
//
// A journal is the newest row per key (upserts; an empty value erases), so
// it holds the live state and nothing more: no compaction pass is needed.
// The file records the application, the schema version and the record
// format; a file that is not ours, from a newer version, or not a database
// at all is an error naming the file, never a silent reset.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "messages/store_messages.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace regcore::actors {

class journal {
public:
  /// Schema of the database file (tables, keys).
  static constexpr int schema_version = 1;
  /// Format of the records' bytes (CAF binary serializer of the types in
  /// messages/store_messages.hpp, this version of them).
  static constexpr int record_format = 1;

  /// Opens (or creates) the journal at `path`; ":memory:" for tests. `mode`
  /// sets SQLite's synchronous level: sync = FULL (a commit is on disk when
  /// it returns), async = NORMAL (WAL: survives a process crash, may lose
  /// the last commits on power loss). The error string names the file.
  static std::unique_ptr<journal> open(const std::string& path, durability mode,
                                       std::string& error);

  ~journal();
  journal(const journal&) = delete;
  journal& operator=(const journal&) = delete;

  /// Applies `entries` in order in one transaction; false (and `error`)
  /// when it failed, and then nothing of it was applied.
  bool write(const std::vector<journal_entry>& entries, std::string& error);

  /// Calls `fn(key, bytes)` for every row of `table`.
  bool scan(journal_table table,
            const std::function<void(std::string_view key, std::string_view bytes)>& fn,
            std::string& error);

  /// Rows of `table`.
  size_t count(journal_table table);

  const std::string& path() const noexcept { return path_; }

private:
  journal(sqlite3* db, std::string path);

  bool exec(const char* sql, std::string& error);
  bool prepare(std::string& error);
  std::string describe(const char* what) const;

  sqlite3* db_;
  std::string path_;
  sqlite3_stmt* upsert_ = nullptr;
  sqlite3_stmt* erase_ = nullptr;
};

/// Serializes a stored record with CAF's binary serializer.
template <class T>
std::vector<char> to_bytes(const T& x);

/// Reads back what to_bytes wrote; false on malformed bytes.
template <class T>
bool from_bytes(std::string_view bytes, T& x);

} // namespace regcore::actors
