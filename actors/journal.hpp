// SPDX-License-Identifier: MIT
#pragma once

// The journal's storage: two SQLite databases (WAL mode). Not an actor and
// not thread-safe: the store actor (store.hpp) owns it once the engine runs;
// before that, spawn_engine reads it to restore the state.
//
//   auto j = journal::open("registrar-data/registrar.db", durability::sync);
//   if (!j) { print(j.error()); exit(1); }   // names the file and the cause
//   (*j)->write(std::move(batch.entries));   // one transaction
//   (*j)->scan(journal_table::users, [](auto key, auto bytes) { ... });
//
// A commit appends ONE row to the `log` table of the log database
// (log_path(): registrar-log.db beside registrar.db): the group's entries
// in one blob. That write is sequential whatever the keys, so its cost does
// not depend on where the AORs fall in the key space. The keyed table
// `journal` of the state database (the newest value per key; an empty
// value erases) is brought up to date by a fold: once enough entries are
// in the log, a helper thread sorts them and writes the newest value of
// each key in key order, in slices of their own transactions, through a
// connection of its own to the state database; once that is on disk, the
// store deletes the folded log rows, oldest first, a few between two
// commits. The two files keep the fold's page writes and checkpoints out
// of the commits' fsyncs (docs/performance.md, "Durability"). Opening folds
// what is left in the log (a crash during a fold only repeats it: the
// values come from the log rows, which are deleted last). The journal
// therefore holds the live state, about two folds' worth of log at most,
// and nothing more.
//
// Each file records the application and the schema version (the state
// also the record format, and both the id that pairs them); a file that is
// not ours, from a newer version, not a database at all, or a log missing
// or belonging to another state file is an error naming the file, never a
// silent reset. Schema 1 (no log) and 2 (the log table in the state file)
// are migrated at open.

#include <atomic>
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
  /// Schema of the database files (tables, keys): 2 added the log table, 3
  /// moved it into a file of its own and keys the table by a hash first.
  static constexpr int schema_version = 3;
  /// Format of the records' bytes (our varint inspector, journal.cpp, over
  /// the inspect() of the types in messages/store_messages.hpp, this
  /// version of them).
  static constexpr int record_format = 1;

  /// Opens (or creates) the journal whose state database is `path`, and its
  /// log (log_path(path)); ":memory:" for tests. `mode` sets the log's
  /// synchronous level: sync = FULL (a commit is on disk when it returns),
  /// async = NORMAL (WAL: survives a process crash, may lose the last
  /// commits on power loss). The error string names the file.
  static std::unique_ptr<journal> open(const std::string& path, durability mode,
                                       std::string& error);

  /// The log database beside the state database `path`: "x.db" ->
  /// "x-log.db", anything else gets "-log" appended.
  static std::string log_path(const std::string& path);

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

  /// Moves the fold on: starts one if it is due (on the helper thread);
  /// once the helper has written every key, deletes the next few folded log
  /// rows (one transaction of the log). Waits for the helper if `wait`
  /// (tests) or if the next fold is due already (back-pressure: the log
  /// holds at most about two folds). False (and `error`) when the fold or
  /// the deletion failed; the next call tries again.
  bool fold_step(std::string& error, bool wait = false);

  /// Folds everything in the log and waits for it (scan and count call it).
  bool fold_all(std::string& error);

  /// Entries appended since the last fold began that start the next one:
  /// max(min_fold, rows of the keyed table / 4), so that a fold writes each
  /// page of the keyed table about once however large it grows.
  size_t fold_threshold() const noexcept;

  /// The smallest fold (registrard: persistence.fold_entries; default
  /// 65,536 entries).
  void set_min_fold(size_t n) noexcept { min_fold_ = n; }

  /// Keys per transaction of a fold (default 1024).
  void set_fold_slice(size_t n) noexcept { fold_slice_ = n == 0 ? 1 : n; }

  /// Tests: log rows deleted per step once a fold's keys are written
  /// (default 64).
  void set_trim_rows(int n) noexcept { trim_rows_ = n; }

  /// Tests: the next fold stops (as a crash would) after writing this many
  /// slices.
  void stop_fold_after(size_t slices) noexcept { stop_after_ = slices; }

  /// Calls `fn(key, bytes)` for every row of `table` (after fold_all).
  bool scan(journal_table table,
            const std::function<void(std::string_view key, std::string_view bytes)>& fn,
            std::string& error);

  /// Rows of `table` (after fold_all).
  size_t count(journal_table table);

  /// Rows of the log table (tests, stats).
  size_t log_rows();

  /// Folds completed; the keys of the last one and its duration (from its
  /// start to its last deleted log row) in microseconds.
  uint64_t folds() const noexcept { return folds_; }
  size_t last_fold_keys() const noexcept { return last_fold_keys_; }
  int64_t last_fold_us() const noexcept { return last_fold_us_; }

  const std::string& path() const noexcept { return path_; }

private:
  /// What the helper thread reports of a fold.
  struct fold_result {
    bool ok = true;
    std::string error;
    size_t keys = 0;
    /// Rows inserted minus rows erased.
    int64_t rows_added = 0;
  };

  journal(sqlite3* db, std::string path);

  bool exec(sqlite3* db, const char* sql, std::string& error);
  bool prepare_state(std::string& error);
  bool open_log(durability mode, std::string& error);
  std::string describe(sqlite3* db, const std::string& file, const char* what) const;
  /// Reads the log rows of `table_db` (the old in-file log of schema 2, or
  /// the log file) into pending_.
  bool load_log(sqlite3* table_db, const std::string& file, std::string& error);
  /// Moves pending_ into the fold and starts it on the helper thread, in
  /// transactions of `slice` keys.
  void start_fold(size_t slice);
  /// The helper thread's work: sort, then write the slices.
  fold_result run_fold(size_t slice);
  /// Applies one entry (its key's hash `h`) to the keyed table; counts the
  /// rows it adds and the first statements that changed nothing.
  bool apply(const journal_entry& e, int64_t h, int64_t& rows_added, size_t& misses);
  /// Copies the keyed table of schema 1 or 2 into the one of schema 3.
  bool migrate_keyed(std::string& error);
  /// Takes the helper's result if it is there (waits for it if `wait`);
  /// false (and `error`) when the fold failed.
  bool fold_finished(bool wait, std::string& error);
  /// Enough entries were appended since the last fold began for the next.
  bool next_fold_due() const noexcept;
  /// Deletes the next trim_rows_ folded log rows.
  bool trim_step(std::string& error);
  void rollback(sqlite3* db);

  /// The state database (meta, journal): written by the fold (the helper
  /// thread while it runs, never at the same time as by the owner).
  sqlite3* db_;
  std::string path_;
  /// The log database (meta, log): written by the owner's thread only.
  sqlite3* log_ = nullptr;
  std::string log_path_;
  bool full_sync_ = false;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* update_ = nullptr;
  sqlite3_stmt* erase_ = nullptr;
  sqlite3_stmt* append_ = nullptr;
  sqlite3_stmt* trim_ = nullptr;
  /// The entries appended since the last fold began, in order (moved in:
  /// appending one costs no copy and no lookup; the fold sorts them and
  /// keeps the last of each key).
  std::vector<journal_entry> pending_;
  /// The fold under way: its entries (read by the helper only while it
  /// runs) and the helper's result.
  std::vector<journal_entry> folding_;
  std::future<fold_result> fold_task_;
  /// Set to end a fold early (the journal is closing).
  std::atomic<bool> stopping_{false};
  size_t fold_slice_ = 1024;
  /// The fold tries INSERT before UPDATE (the helper's; kept from slice to
  /// slice and fold to fold).
  bool insert_first_ = false;
  size_t stop_after_ = 0;
  /// The last log row the fold covers; its rows are deleted once every key
  /// is on disk, oldest first, trim_rows_ at a time (a crash in between
  /// leaves only newer rows, whose replay gives the same values).
  int64_t fold_upto_ = 0;
  bool trimming_ = false;
  int trim_rows_ = 64;
  int64_t last_seq_ = 0;
  /// Rows of the keyed table (all tables), as of the last completed fold.
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
