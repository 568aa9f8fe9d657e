// SPDX-License-Identifier: MIT
#pragma once

// The journal's storage: a SQLite database (WAL mode) for the state and a
// log of two record files. Not an actor and not thread-safe: the store actor
// (store.hpp) owns it once the engine runs; before that, spawn_engine reads
// it to restore the state.
//
//   auto j = journal::open("registrar-data/registrar.db", durability::sync);
//   if (!j) { print(j.error()); exit(1); }   // names the file and the cause
//   (*j)->write(std::move(batch.entries));   // one record, one fdatasync
//   (*j)->scan(journal_table::users, [](auto key, auto bytes) { ... });
//
// A commit appends ONE record (the group's entries, a sequence number and a
// CRC-32C) to the current log file (log_files(): registrar-log.0 and
// registrar-log.1 beside registrar.db) with one pwrite and, with `sync`,
// one fdatasync. The files are written over in place, not appended to: a
// file grows in zeroed chunks ahead of the records, so the fdatasync of a
// commit writes the record's blocks and no file size or extent (that halves
// a commit's latency and cuts its CPU to a third of a SQLite log's on this
// project's disks, docs/performance.md). The keyed table `journal` of the
// state database (the newest value per key; an empty value erases) is
// brought up to date by a fold: once enough entries are logged, a helper
// thread sorts them and writes the newest value of each key in key order,
// in slices of their own transactions, through a connection of its own; the
// last slice also records the last folded sequence number (meta
// folded_upto). A fold covers the current log file: when it starts, the
// commits go on in the other file, from its start (what that file held is
// folded already). Opening reads both files, keeps the records after
// folded_upto (a record whose CRC fails, or whose number does not follow,
// ends a file's records: a torn last write, or what an earlier round left)
// and folds them. The journal therefore holds the live state, about two
// folds' worth of log at most, and nothing more.
//
// Each file records the application and the schema version (the state
// also the record format, and all of them the id that pairs them); a file
// that is not ours, from a newer version, not a database at all, or a log
// missing or belonging to another state file is an error naming the file,
// never a silent reset. Schemas 1 and 2 (no log file) and 3 (a SQLite log,
// registrar-log.db) are migrated at open.

#include <array>
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
  /// Schema of the files (tables, keys, log): 2 added the log table, 3
  /// moved it into a SQLite file of its own and keys the table by a hash
  /// first, 4 made the log two record files.
  static constexpr int schema_version = 4;
  /// Format of the records' bytes (our varint inspector, journal.cpp, over
  /// the inspect() of the types in messages/store_messages.hpp, this
  /// version of them).
  static constexpr int record_format = 1;

  /// Opens (or creates) the journal whose state database is `path`, and its
  /// log (log_files(path)); ":memory:" for tests (no log: nothing survives
  /// the object). `mode`: sync = a commit is on disk when write() returns
  /// (fdatasync); async = written to the file, on disk within the kernel's
  /// writeback (survives a process crash, may lose the last commits on
  /// power loss). The error string names the file.
  static std::unique_ptr<journal> open(const std::string& path, durability mode,
                                       std::string& error);

  /// The two log files beside the state database `path`: "x.db" ->
  /// "x-log.0" and "x-log.1" (a name without ".db" gets "-log.0", "-log.1").
  static std::array<std::string, 2> log_files(const std::string& path);

  /// The SQLite log of schema 3 ("x.db" -> "x-log.db"), migrated at open.
  static std::string schema3_log_path(const std::string& path);

  ~journal();
  journal(const journal&) = delete;
  journal& operator=(const journal&) = delete;

  /// Appends `entries` (in order: a later one for the same key wins) as one
  /// log record; false (and `error`) when it failed, and then nothing of it
  /// counts (the next record is written over it).
  bool write(std::vector<journal_entry> entries, std::string& error);

  /// True when a fold is under way or due: enough entries were appended
  /// since the last one (fold_threshold()).
  bool fold_due() const noexcept;

  /// Moves the fold on: takes the helper's result if it is done, starts the
  /// next fold if one is due (on the helper thread). Waits for the helper if
  /// `wait` (tests) or if the next fold is due already (back-pressure: the
  /// log holds at most about two folds, one per file). False (and `error`)
  /// when the fold failed; the next one covers its entries again.
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

  /// Tests: the next fold stops (as a crash would) after writing this many
  /// slices.
  void stop_fold_after(size_t slices) noexcept { stop_after_ = slices; }

  /// Calls `fn(key, bytes)` for every row of `table` (after fold_all).
  bool scan(journal_table table,
            const std::function<void(std::string_view key, std::string_view bytes)>& fn,
            std::string& error);

  /// Rows of `table` (after fold_all).
  size_t count(journal_table table);

  /// Log records written since the last completed fold: those a restart
  /// would fold (tests, stats).
  size_t log_records() const noexcept {
    return static_cast<size_t>(last_seq_ - folded_upto_);
  }

  /// The current log file (0 or 1; tests).
  int current_log() const noexcept { return current_; }

  /// Folds completed; the keys of the last one and its duration (from its
  /// start until its last slice was on disk) in microseconds.
  uint64_t folds() const noexcept { return folds_; }
  size_t last_fold_keys() const noexcept { return last_fold_keys_; }
  int64_t last_fold_us() const noexcept { return last_fold_us_; }

  const std::string& path() const noexcept { return path_; }

  /// What opening dropped, for the operator's log: with durability async,
  /// the records after a corrupt or torn one that newer records follow (a
  /// power loss can leave this; with sync, open() fails instead). Empty
  /// when nothing was dropped.
  const std::string& open_warning() const noexcept { return open_warning_; }

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

  /// One log file: its descriptor, its size (zeroed ahead of the records)
  /// and where the next record goes.
  struct log_file {
    int fd = -1;
    std::string path;
    uint64_t size = 0;
    uint64_t pos = 0;
    /// Opening: where its records stopped.
    uint64_t run_end = 0;
  };

  bool exec(sqlite3* db, const char* sql, std::string& error);
  bool prepare_state(std::string& error);
  /// Opens the log files; `fresh`: (re)creates them (a new journal, or one
  /// being migrated), otherwise reads their records after folded_upto into
  /// pending_.
  bool open_log(bool fresh, std::string& error);
  /// Opening, after each file's records are read: records beyond the end
  /// of a file's run that are newer than `newest` (every record kept, and
  /// folded_upto). With sync, where only damage can leave them (each
  /// record is on disk before the next is written), they are an error.
  /// With async, where a power loss can write a later page before an
  /// earlier one, they are dropped, erased from the file (so that new
  /// records never link up with them), and open_warning() says so.
  bool check_breaks(int64_t newest, std::string& error);
  bool create_log_file(log_file& f, const std::string& id, std::string& error);
  /// Zeroes `f` up to at least `end` (chunks grow with the file).
  bool extend(log_file& f, uint64_t end, std::string& error);
  std::string describe(sqlite3* db, const std::string& file, const char* what) const;
  /// Reads the log rows of the SQLite table `log` in `table_db` (the
  /// in-file log of schema 2, or the log file of schema 3) into pending_.
  bool load_sqlite_log(sqlite3* table_db, const std::string& file, std::string& error);
  /// Reads the schema 3 log beside the state file into pending_.
  bool load_schema3_log(const std::string& state_id, std::string& error);
  /// Moves pending_ into the fold and starts it on the helper thread, in
  /// transactions of `slice` keys.
  void start_fold(size_t slice);
  /// The helper thread's work: sort, then write the slices.
  fold_result run_fold(size_t slice);
  /// Applies one entry (its key's hash `h`) to the keyed table; counts the
  /// rows it adds and the first statements that changed nothing.
  bool apply(journal_table table, std::string_view key, std::string_view value, int64_t h,
             int64_t& rows_added, size_t& misses);
  /// Keeps a record read back at open (header and payload) for the next
  /// fold; false when its entries are malformed.
  bool keep_record(std::vector<char> record);
  /// Copies the keyed table of schema 1 or 2 into the one of schema 3.
  bool migrate_keyed(std::string& error);
  /// Takes the helper's result if it is there (waits for it if `wait`);
  /// false (and `error`) when the fold failed.
  bool fold_finished(bool wait, std::string& error);
  /// Enough entries were appended since the last fold began for the next.
  bool next_fold_due() const noexcept;
  void rollback(sqlite3* db);

  /// The state database (meta, journal): written by the fold (the helper
  /// thread while it runs, never at the same time as by the owner).
  sqlite3* db_;
  std::string path_;
  std::string open_warning_;
  /// The last write() failed: the next fold does not switch files.
  bool write_failed_ = false;
  /// The log files (none for ":memory:"): written by the owner's thread
  /// only; the one being written is current_, the other holds the records
  /// of the fold under way (other_dirty_) or folded ones.
  std::array<log_file, 2> logs_;
  bool memory_ = false;
  int current_ = 0;
  bool other_dirty_ = false;
  bool full_sync_ = false;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* update_ = nullptr;
  sqlite3_stmt* erase_ = nullptr;
  /// The records appended since the last fold began, in order (each the
  /// bytes written to the log: a header, then the entries; the fold sorts
  /// the entries and keeps the last of each key), and how many entries
  /// they hold.
  std::vector<std::vector<char>> pending_;
  size_t pending_entries_ = 0;
  /// The fold under way: its records (read by the helper only while it
  /// runs) and the helper's result.
  std::vector<std::vector<char>> folding_;
  size_t folding_entries_ = 0;
  std::future<fold_result> fold_task_;
  /// Set to end a fold early (the journal is closing).
  std::atomic<bool> stopping_{false};
  size_t fold_slice_ = 1024;
  /// The fold tries INSERT before UPDATE (the helper's; kept from slice to
  /// slice and fold to fold).
  bool insert_first_ = false;
  size_t stop_after_ = 0;
  /// The last log record the fold under way covers; once it is done, the
  /// last one folded (the state file records it with the fold's last slice).
  int64_t fold_upto_ = 0;
  int64_t folded_upto_ = 0;
  int64_t last_seq_ = 0;
  /// Rows of the keyed table (all tables), as of the last completed fold.
  size_t base_rows_ = 0;
  size_t min_fold_ = 65536;
  uint64_t folds_ = 0;
  size_t last_fold_keys_ = 0;
  int64_t last_fold_us_ = 0;
  std::chrono::steady_clock::time_point fold_started_;
  /// The record being written (kept for its capacity).
  std::vector<char> blob_;
};

/// Serializes a stored record (record_format; empty on failure).
template <class T>
std::vector<char> to_bytes(const T& x);

/// Reads back what to_bytes wrote; false on malformed bytes.
template <class T>
bool from_bytes(std::string_view bytes, T& x);

} // namespace regcore::actors
