// SPDX-License-Identifier: MIT
#pragma once

// The journal's storage: one SQLite database (WAL mode) with two tables.
// Not an actor and not thread-safe: the store actor (store.hpp) owns it once
// the engine runs; before that, spawn_engine reads it to restore the state.
//
//   auto j = journal::open("registrar-data/registrar.db", durability::sync);
//   if (!j) { print(j.error()); exit(1); }   // names the file and the cause
//   (*j)->write(std::move(batch.entries));   // one transaction
//   (*j)->scan(journal_table::users, [](auto key, auto bytes) { ... });
//
// A commit appends ONE row to the `log` table: the group's entries in one
// blob. That write is sequential whatever the keys, so its cost does not
// depend on where the AORs fall in the key space. The keyed table `journal`
// (the newest value per key; an empty value erases) is brought up to date
// by a fold: once enough entries are in the log, their newest value per key
// is written in key order, in slices of their own transactions between the
// group commits; then the folded log rows are deleted, oldest first, a few
// per step. A page of the keyed table is thus written once per fold, not
// once per entry (docs/performance.md, "Durability"). Opening folds what is
// left in the log (a crash during a fold only repeats it: the values come
// from the log rows, which are deleted last). The journal therefore holds
// the live state, about two folds' worth of log at most, and nothing more.
//
// The file records the application, the schema version and the record
// format; a file that is not ours, from a newer version, or not a database
// at all is an error naming the file, never a silent reset. Schema 1 (no
// log table) is migrated at open.

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
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
  /// Schema of the database file (tables, keys): 2 added the log table.
  static constexpr int schema_version = 2;
  /// Format of the records' bytes (our varint inspector, journal.cpp, over
  /// the inspect() of the types in messages/store_messages.hpp, this
  /// version of them).
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

  /// Appends `entries` (in order: a later one for the same key wins) in one
  /// transaction; false (and `error`) when it failed, and then nothing of it
  /// was applied.
  bool write(std::vector<journal_entry> entries, std::string& error);

  /// True when a fold is under way or due: enough entries were appended
  /// since the last one (fold_threshold()).
  bool fold_due() const noexcept;

  /// Writes the next slice (at most `max_keys` keys) of the fold into the
  /// keyed table, starting a fold if one is due; once every key is written,
  /// the next calls delete the folded log rows, a few at a time. One
  /// transaction; false (and `error`) when it failed, and then it is tried
  /// again by the next call.
  bool fold_step(size_t max_keys, std::string& error);

  /// Folds everything in the log (scan and count call it).
  bool fold_all(std::string& error);

  /// Entries appended since the last fold began that start the next one:
  /// max(min_fold, rows of the keyed table / 4), so that a fold writes each
  /// page of the keyed table about once however large it grows.
  size_t fold_threshold() const noexcept;

  /// The smallest fold (registrard: persistence.fold_entries; default
  /// 65,536 entries).
  void set_min_fold(size_t n) noexcept { min_fold_ = n; }

  /// Tests: log rows deleted per step once a fold's keys are written
  /// (default 32).
  void set_trim_rows(int n) noexcept { trim_rows_ = n; }

  /// Calls `fn(key, bytes)` for every row of `table` (after fold_all).
  bool scan(journal_table table,
            const std::function<void(std::string_view key, std::string_view bytes)>& fn,
            std::string& error);

  /// Rows of `table` (after fold_all).
  size_t count(journal_table table);

  /// Rows of the log table (tests, stats).
  size_t log_rows();

  /// Folds completed; the keys of the last one and its duration (from its
  /// start to its last slice) in microseconds.
  uint64_t folds() const noexcept { return folds_; }
  size_t last_fold_keys() const noexcept { return last_fold_keys_; }
  int64_t last_fold_us() const noexcept { return last_fold_us_; }

  const std::string& path() const noexcept { return path_; }

private:
  journal(sqlite3* db, std::string path);

  bool exec(const char* sql, std::string& error);
  bool prepare(std::string& error);
  std::string describe(const char* what) const;
  /// Reads the log rows left by the last run into pending_.
  bool load_log(std::string& error);
  /// Moves pending_ into the fold and starts sorting its keys.
  void start_fold();
  /// True when the fold's keys are in order (waits for them if `wait`).
  bool fold_ready(bool wait);
  /// Deletes the next trim_rows_ folded log rows.
  bool trim_step(std::string& error);
  /// Applies one entry to the keyed table; keeps base_rows_ exact.
  bool apply(const journal_entry& e);
  void rollback();

  sqlite3* db_;
  std::string path_;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* update_ = nullptr;
  sqlite3_stmt* erase_ = nullptr;
  sqlite3_stmt* append_ = nullptr;
  sqlite3_stmt* trim_ = nullptr;
  /// The entries appended since the last fold began, in order (moved in:
  /// appending one costs no copy and no lookup; the fold sorts them and
  /// keeps the last of each key).
  std::vector<journal_entry> pending_;
  /// The fold under way: its values, their keys in order (sorted on a
  /// helper thread while the commits go on: 65k keys take tens of ms), the
  /// next one.
  using key_order = std::vector<const journal_entry*>;
  std::vector<journal_entry> folding_;
  std::future<key_order> sorting_;
  key_order fold_order_;
  size_t fold_pos_ = 0;
  /// The last log row the fold covers; its rows are deleted once every key
  /// is written, oldest first, trim_rows_ at a time (a crash in between
  /// leaves only newer rows, whose replay gives the same values).
  int64_t fold_upto_ = 0;
  bool trimming_ = false;
  int trim_rows_ = 32;
  int64_t last_seq_ = 0;
  /// Rows of the keyed table (all tables).
  size_t base_rows_ = 0;
  size_t min_fold_ = 65536;
  uint64_t folds_ = 0;
  size_t last_fold_keys_ = 0;
  int64_t last_fold_us_ = 0;
  std::chrono::steady_clock::time_point fold_started_;
  /// The blob of the commit being written (kept for its capacity).
  std::vector<char> blob_;
};

/// Serializes a stored record (record_format; empty on failure).
template <class T>
std::vector<char> to_bytes(const T& x);

/// Reads back what to_bytes wrote; false on malformed bytes.
template <class T>
bool from_bytes(std::string_view bytes, T& x);

} // namespace regcore::actors
