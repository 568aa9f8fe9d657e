// SPDX-License-Identifier: MIT
#include "actors/journal.hpp"

#include "core/crc32c.hpp"
#include "core/hash.hpp"

#include <sqlite3.h>

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <type_traits>

#include <caf/detail/type_traits.hpp>
#include <caf/meta/annotation.hpp>

namespace regcore::actors {

namespace {

constexpr std::string_view application = "registrar-core";

/// Reads one text value of the meta table; empty when absent.
std::string meta_value(sqlite3* db, const char* key) {
  sqlite3_stmt* st = nullptr;
  std::string result;
  if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &st, nullptr)
      != SQLITE_OK)
    return result;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) {
    auto text = sqlite3_column_text(st, 0);
    if (text)
      result = reinterpret_cast<const char*>(text);
  }
  sqlite3_finalize(st);
  return result;
}

bool has_table(sqlite3* db, const char* name) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db,
                         "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                         -1, &st, nullptr)
      != SQLITE_OK)
    return false;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  bool found = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  return found;
}

/// The number a `SELECT count(*) ...` returns (0 on error); `param`, if
/// not negative, is bound to ?1.
size_t count_rows(sqlite3* db, const char* sql, int param = -1) {
  sqlite3_stmt* st = nullptr;
  size_t n = 0;
  if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK)
    return 0;
  if (param >= 0)
    sqlite3_bind_int(st, 1, param);
  if (sqlite3_step(st) == SQLITE_ROW)
    n = static_cast<size_t>(sqlite3_column_int64(st, 0));
  sqlite3_finalize(st);
  return n;
}

size_t user_tables(sqlite3* db) {
  return count_rows(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'");
}

/// The keyed table of schema 3. Rows are ordered by a hash of their key
/// before the key itself: a fold's seeks then compare integers, not AOR
/// strings (with the key first, memcmp was the fold's largest cost).
constexpr const char* keyed_table
  = "CREATE TABLE journal (tbl INTEGER NOT NULL, h INTEGER NOT NULL, key TEXT NOT NULL,"
    " value BLOB NOT NULL, PRIMARY KEY (tbl, h, key)) WITHOUT ROWID;";

/// The `h` of a key: FNV-1a (fixed by definition, so the files of every
/// build agree) with a final mix, as SQLite's signed integer.
int64_t key_hash(std::string_view key) {
  return static_cast<int64_t>(core::mix64(core::stable_hash(key)));
}

// A log row's blob: per entry a varint table, a varint key length and the
// key, a varint value length and the value (length 0: erase).

void put_varint(std::vector<char>& out, uint64_t x) {
  // One insert per number, not a push_back per byte.
  char buf[10];
  size_t n = 0;
  while (x >= 0x80) {
    buf[n++] = static_cast<char>((x & 0x7F) | 0x80);
    x >>= 7;
  }
  buf[n++] = static_cast<char>(x);
  out.insert(out.end(), buf, buf + n);
}

bool get_varint(std::string_view in, size_t& pos, uint64_t& x) {
  x = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= in.size())
      return false;
    auto byte = static_cast<uint8_t>(in[pos++]);
    x |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0)
      return true;
  }
  return false;
}

/// Calls `fn(table, key, value)` for every entry of a log blob (views
/// into it); false when the blob is malformed.
template <class F>
bool decode_log(std::string_view blob, F fn) {
  size_t pos = 0;
  while (pos < blob.size()) {
    uint64_t table = 0;
    uint64_t len = 0;
    if (!get_varint(blob, pos, table) || table > 255 || !get_varint(blob, pos, len)
        || len > blob.size() - pos)
      return false;
    std::string_view key{blob.data() + pos, len};
    pos += len;
    if (!get_varint(blob, pos, len) || len > blob.size() - pos)
      return false;
    std::string_view value{blob.data() + pos, len};
    pos += len;
    fn(static_cast<journal_table>(table), key, value);
  }
  return true;
}

bool file_exists(const std::string& path) {
  struct stat sb;
  return ::stat(path.c_str(), &sb) == 0;
}

/// 64 random bits in hex: the id that pairs a state file with its log.
std::string random_id() {
  std::random_device rd;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
  return buf;
}

/// "FILE: journal WHAT FOUND, this build reads EXPECTED".
std::string mismatch(const std::string& file, const char* what, const std::string& found,
                     int expected) {
  return file + ": journal " + what + " " + found + ", this build reads "
         + std::to_string(expected);
}

/// The SQL that sets up a new file of this schema: the meta table (the
/// application, the schema version and `key` = `value`) and `table`.
std::string new_file(const char* table, const char* key, const std::string& value) {
  return std::string{"BEGIN;CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"}
         + table + "INSERT INTO meta VALUES ('application', '" + std::string{application}
         + "');INSERT INTO meta VALUES ('schema_version', '"
         + std::to_string(journal::schema_version) + "');INSERT INTO meta VALUES ('" + key
         + "', '" + value + "');COMMIT;";
}

sqlite3* open_db(const std::string& path, std::string& error) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                             | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    error = path + ": cannot open: " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return nullptr;
  }
  return db;
}

// -- the log files ------------------------------------------------------------------
//
// A log file starts with a header of log_header_size bytes: the magic, the
// schema version, the record format, the id that pairs it with the state
// file (16 hex digits), its index (0 or 1) and a CRC-32C of these; zeros up
// to the first record. A record: magic (u32), payload length (u32), sequence
// number (u64), CRC-32C of length, number and payload (u32), zero (u32),
// then the payload (the entries, as decode_log reads them). Integers are
// little-endian. After the last record: zeros, or what an earlier round of
// the file left (numbers below the current ones, or a torn record).

constexpr uint64_t log_header_size = 4096;
constexpr char log_magic[8] = {'R', 'C', 'O', 'R', 'E', 'L', 'O', 'G'};
constexpr size_t log_header_bytes = 40;
constexpr uint32_t record_magic = 0x5245434Cu;
constexpr size_t record_header = 24;

uint32_t load32(const char* p) {
  uint32_t x;
  std::memcpy(&x, p, 4);
  return x;
}

uint64_t load64(const char* p) {
  uint64_t x;
  std::memcpy(&x, p, 8);
  return x;
}

void store32(char* p, uint32_t x) {
  std::memcpy(p, &x, 4);
}

void store64(char* p, uint64_t x) {
  std::memcpy(p, &x, 8);
}

std::string errno_text() {
  return std::strerror(errno);
}

/// Writes all of `n` bytes at `offset`; false (errno set) otherwise.
bool pwrite_all(int fd, const char* data, size_t n, uint64_t offset) {
  while (n > 0) {
    auto w = ::pwrite(fd, data, n, static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return false;
    data += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return true;
}

/// Reads up to `n` bytes at `offset` (fewer at the end of the file); -1 on
/// error.
ssize_t pread_all(int fd, char* data, size_t n, uint64_t offset) {
  size_t done = 0;
  while (done < n) {
    auto r = ::pread(fd, data + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return -1;
    if (r == 0)
      break;
    done += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(done);
}

/// fsyncs the directory of `path`, so that a file created in it is there
/// after a crash.
void sync_directory(const std::string& path) {
  auto slash = path.rfind('/');
  auto dir = slash == std::string::npos ? std::string{"."} : path.substr(0, slash + 1);
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

/// The CRC-32C of a record: its length and number (bytes 4-15 of its
/// header), then its payload.
uint32_t record_crc(const char* header, const char* payload, size_t len) {
  return core::crc32c(core::crc32c(0, header + 4, 12), payload, len);
}

/// One record found in a log file: its bytes (header and payload) when it
/// is not folded yet.
struct record_ref {
  int64_t seq;
  int file;
  std::vector<char> bytes;
};

} // namespace

journal::journal(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {
  // nop
}

journal::~journal() {
  // A fold under way ends after its current slice; the log keeps its
  // entries (the next open folds them).
  stopping_ = true;
  if (fold_task_.valid())
    fold_task_.wait();
  for (auto st : {insert_, update_, erase_})
    sqlite3_finalize(st);
  sqlite3_close(db_);
  for (auto& f : logs_)
    if (f.fd >= 0)
      ::close(f.fd);
}

namespace {

/// "x.db" -> "x", anything else unchanged.
std::string stem(const std::string& path) {
  if (path.size() > 3 && path.compare(path.size() - 3, 3, ".db") == 0)
    return path.substr(0, path.size() - 3);
  return path;
}

} // namespace

std::array<std::string, 2> journal::log_files(const std::string& path) {
  auto base = stem(path) + "-log.";
  return {base + "0", base + "1"};
}

std::string journal::schema3_log_path(const std::string& path) {
  if (path.size() > 3 && path.compare(path.size() - 3, 3, ".db") == 0)
    return stem(path) + "-log.db";
  return path + "-log";
}

std::string journal::describe(sqlite3* db, const std::string& file, const char* what) const {
  std::string msg = file;
  msg += ": ";
  msg += what;
  msg += ": ";
  msg += sqlite3_errmsg(db);
  return msg;
}

bool journal::exec(sqlite3* db, const char* sql, std::string& error) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) == SQLITE_OK)
    return true;
  error = (db == db_ ? path_ : std::string{sqlite3_db_filename(db, "main")}) + ": "
          + (msg ? msg : sqlite3_errmsg(db));
  sqlite3_free(msg);
  return false;
}

bool journal::prepare_state(std::string& error) {
  auto prep = [this](const char* sql, sqlite3_stmt*& st) {
    return sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) == SQLITE_OK;
  };
  if (!prep("INSERT OR IGNORE INTO journal (tbl, h, key, value) VALUES (?1, ?4, ?2, ?3)",
            insert_)
      || !prep("UPDATE journal SET value = ?3 WHERE tbl = ?1 AND h = ?4 AND key = ?2",
               update_)
      || !prep("DELETE FROM journal WHERE tbl = ?1 AND h = ?4 AND key = ?2", erase_)) {
    error = describe(db_, path_, "cannot prepare the journal statements");
    return false;
  }
  return true;
}

std::unique_ptr<journal> journal::open(const std::string& path, durability mode,
                                       std::string& error) {
  auto db = open_db(path, error);
  if (db == nullptr)
    return nullptr;
  std::unique_ptr<journal> j{new journal(db, path)};
  j->full_sync_ = mode == durability::sync;
  // A new state file gets 64 KB pages (an existing one keeps its own): a
  // fold then seeks through fewer, fuller pages, splits fewer and writes a
  // user of up to ~16 KB inline; folds took ~27 % less time than with 4 KB
  // pages (docs/performance.md, "Schema 4"). A fold writes about a quarter
  // of the rows (fold_threshold), so every page it dirties carries many of
  // its keys either way.
  if (!j->exec(db, "PRAGMA page_size = 65536", error))
    return nullptr;
  // A file that is not a database fails here ("file is not a database").
  if (!j->exec(db, "PRAGMA journal_mode = WAL", error))
    return nullptr;
  // The state file is written by folds only: their slices need no fsync
  // each; the last one of a fold is committed FULL (run_fold) before the
  // folded log rows go.
  if (!j->exec(db, "PRAGMA synchronous = NORMAL", error))
    return nullptr;
  // Rows land on random pages (keys are AORs): a page cache that holds the
  // whole table keeps a fold from reading its pages back from the file
  // (SQLite's default is 2 MB). 256 MB is an upper bound, used only as the
  // table grows.
  if (!j->exec(db, "PRAGMA cache_size = -262144", error))
    return nullptr;
  // What is migrated: 1 and 2 key the table by (tbl, key), 2 keeps its log
  // in a table of this file, 3 in a SQLite file of its own.
  int from = schema_version;
  if (has_table(db, "meta")) {
    auto app = meta_value(db, "application");
    if (app != application) {
      error = path + ": not a registrar-core journal (application '" + app + "')";
      return nullptr;
    }
    auto schema = meta_value(db, "schema_version");
    if (schema == "1" || schema == "2" || schema == "3") {
      from = schema[0] - '0';
    } else if (schema != std::to_string(schema_version)) {
      // A newer file must not be rewritten by an older build.
      error = mismatch(path, "schema version", schema, schema_version);
      return nullptr;
    }
    auto format = meta_value(db, "record_format");
    if (format != std::to_string(record_format)) {
      error = mismatch(path, "record format", format, record_format);
      return nullptr;
    }
  } else if (user_tables(db) > 0) {
    error = path + ": not a registrar-core journal (a database with other tables)";
    return nullptr;
  } else {
    auto create = new_file(keyed_table, "record_format", std::to_string(record_format));
    if (!j->exec(db, create.c_str(), error))
      return nullptr;
    from = 0; // new: its log files are created
  }
  if (from == 1 || from == 2) {
    if (!j->migrate_keyed(error))
      return nullptr;
  }
  if (!j->prepare_state(error))
    return nullptr;
  auto folded = meta_value(db, "folded_upto");
  char* folded_end = nullptr;
  j->folded_upto_ = std::strtoll(folded.c_str(), &folded_end, 10);
  if (*folded_end != '\0' || j->folded_upto_ < 0) {
    error = path + ": corrupt journal: folded_upto is '" + folded + "'";
    return nullptr;
  }
  j->last_seq_ = j->folded_upto_;
  // The logs of older schemas come first: older than anything in the files.
  if (from == 2 && !j->load_sqlite_log(db, path, error))
    return nullptr;
  if (from == 3 && !j->load_schema3_log(meta_value(db, "log_id"), error))
    return nullptr;
  if (!j->open_log(from != schema_version, error) || !j->fold_all(error))
    return nullptr;
  if (from != 0 && from != schema_version) {
    // The state holds everything now; it names the new log (open_log) and
    // this schema, durably, before the old log goes.
    if (!j->exec(db,
                 "PRAGMA synchronous = FULL; BEGIN; DROP TABLE IF EXISTS log;"
                 "UPDATE meta SET value = '4' WHERE key = 'schema_version'; COMMIT;"
                 "PRAGMA synchronous = NORMAL;",
                 error)) {
      error = "cannot migrate the journal: " + error;
      return nullptr;
    }
  }
  if (!j->memory_) {
    // A schema 3 log whose migration ended before it was removed.
    auto old = schema3_log_path(path);
    for (auto suffix : {"", "-wal", "-shm"})
      ::unlink((old + suffix).c_str());
  }
  j->base_rows_ = j->count(journal_table::users) + j->count(journal_table::policies);
  return j;
}

bool journal::migrate_keyed(std::string& error) {
  // Schemas 1 and 2 keyed the table by (tbl, key): copy it into the table
  // of schema 3, in one transaction.
  if (!exec(db_, "BEGIN; ALTER TABLE journal RENAME TO journal_v2;", error))
    return false;
  sqlite3_stmt* read = nullptr;
  sqlite3_stmt* write = nullptr;
  bool ok = exec(db_, keyed_table, error)
            && sqlite3_prepare_v2(db_, "SELECT tbl, key, value FROM journal_v2", -1, &read,
                                  nullptr)
                 == SQLITE_OK
            && sqlite3_prepare_v2(db_,
                                  "INSERT INTO journal (tbl, h, key, value)"
                                  " VALUES (?1, ?2, ?3, ?4)",
                                  -1, &write, nullptr)
                 == SQLITE_OK;
  int rc = SQLITE_DONE;
  while (ok && (rc = sqlite3_step(read)) == SQLITE_ROW) {
    auto key = static_cast<const char*>(sqlite3_column_blob(read, 1));
    std::string_view k{key ? key : "", static_cast<size_t>(sqlite3_column_bytes(read, 1))};
    sqlite3_bind_int(write, 1, sqlite3_column_int(read, 0));
    sqlite3_bind_int64(write, 2, key_hash(k));
    sqlite3_bind_text(write, 3, k.data(), static_cast<int>(k.size()), SQLITE_STATIC);
    sqlite3_bind_value(write, 4, sqlite3_column_value(read, 2));
    ok = sqlite3_step(write) == SQLITE_DONE;
    sqlite3_reset(write);
  }
  ok = ok && rc == SQLITE_DONE;
  if (!ok && error.empty())
    error = describe(db_, path_, "cannot migrate the keyed table");
  sqlite3_finalize(read);
  sqlite3_finalize(write);
  ok = ok && exec(db_, "DROP TABLE journal_v2; COMMIT;", error);
  if (!ok) {
    rollback(db_);
    error = "cannot migrate the journal: " + error;
  }
  return ok;
}

bool journal::load_schema3_log(const std::string& state_id, std::string& error) {
  auto file = schema3_log_path(path_);
  if (path_ == ":memory:")
    return true;
  if (!file_exists(file)) {
    if (state_id.empty())
      return true;
    // Its changes since the last fold would be lost without a word.
    error = file + ": missing: " + path_ + " was written with this log beside it";
    return false;
  }
  auto log = open_db(file, error);
  if (log == nullptr)
    return false;
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> guard{log, sqlite3_close};
  auto app = meta_value(log, "application");
  if (app != application || !has_table(log, "log")) {
    error = file + ": not a registrar-core journal log (application '" + app + "')";
    return false;
  }
  auto id = meta_value(log, "log_id");
  if (id != state_id) {
    error = file + ": the log of another journal (id " + id + ", " + path_ + " expects "
            + state_id + ")";
    return false;
  }
  return load_sqlite_log(log, file, error);
}

bool journal::create_log_file(log_file& f, const std::string& id, std::string& error) {
  if (f.fd >= 0)
    ::close(f.fd);
  f.fd = ::open(f.path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (f.fd < 0) {
    error = f.path + ": cannot create: " + errno_text();
    return false;
  }
  std::vector<char> header(log_header_size, 0);
  std::memcpy(header.data(), log_magic, 8);
  store32(header.data() + 8, schema_version);
  store32(header.data() + 12, record_format);
  std::memcpy(header.data() + 16, id.data(), std::min<size_t>(id.size(), 16));
  store32(header.data() + 32, static_cast<uint32_t>(&f - logs_.data()));
  store32(header.data() + 36, core::crc32c(0, header.data(), 36));
  if (!pwrite_all(f.fd, header.data(), header.size(), 0) || ::fdatasync(f.fd) != 0) {
    error = f.path + ": cannot write: " + errno_text();
    return false;
  }
  f.size = log_header_size;
  f.pos = log_header_size;
  return true;
}

bool journal::extend(log_file& f, uint64_t end, std::string& error) {
  // Zeros ahead of the records: a commit's fdatasync then writes the
  // record's blocks only, not the file's size and extents too (which took
  // a second journal write of the file system and doubled its latency).
  // The chunk grows with the file: 64 KB, up to 8 MB.
  static const std::vector<char> zeros(1 << 20, 0);
  auto chunk = std::clamp<uint64_t>(f.size, 64 << 10, 8 << 20);
  auto target = std::max(end, f.size + chunk);
  for (auto at = f.size; at < target;) {
    auto n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), target - at));
    if (!pwrite_all(f.fd, zeros.data(), n, at)) {
      error = f.path + ": write failed: " + errno_text();
      return false;
    }
    at += n;
  }
  if (full_sync_ && ::fdatasync(f.fd) != 0) {
    error = f.path + ": fdatasync failed: " + errno_text();
    return false;
  }
  f.size = target;
  return true;
}

bool journal::open_log(bool fresh, std::string& error) {
  if (path_ == ":memory:") {
    memory_ = true;
    return true;
  }
  auto paths = log_files(path_);
  auto state_id = meta_value(db_, "log_id");
  // Reads a file's header: false (and `error`) unless it is a log of ours;
  // `id` its pairing id.
  auto read_header = [&](log_file& f, std::string& id) {
    char h[log_header_bytes];
    auto n = pread_all(f.fd, h, sizeof h, 0);
    if (n != static_cast<ssize_t>(sizeof h) || std::memcmp(h, log_magic, 8) != 0) {
      error = f.path + ": not a registrar-core journal log";
      return false;
    }
    if (load32(h + 36) != core::crc32c(0, h, 36)) {
      error = f.path + ": corrupt journal log: its header fails its checksum";
      return false;
    }
    if (load32(h + 8) != static_cast<uint32_t>(schema_version)) {
      error = mismatch(f.path, "schema version", std::to_string(load32(h + 8)),
                       schema_version);
      return false;
    }
    if (load32(h + 12) != static_cast<uint32_t>(record_format)) {
      error = mismatch(f.path, "record format", std::to_string(load32(h + 12)),
                       record_format);
      return false;
    }
    id.assign(h + 16, 16);
    return true;
  };
  // Reads the records of one file: they follow each other in number from
  // the header on, up to the first that does not: zeros (never written), a
  // whole record an earlier round of the file left (a lower number), or a
  // torn or damaged one. check_breaks then looks whether newer records
  // lie beyond.
  std::vector<record_ref> records;
  auto read_records = [&](int i) {
    auto& f = logs_[i];
    char h[record_header];
    std::vector<char> bytes;
    int64_t prev = 0;
    auto pos = log_header_size;
    while (pread_all(f.fd, h, record_header, pos) == static_cast<ssize_t>(record_header)) {
      auto len = load32(h + 4);
      auto seq = static_cast<int64_t>(load64(h + 8));
      if (load32(h) != record_magic || load32(h + 20) != 0 || len == 0
          || len > f.size - pos - record_header)
        break;
      bytes.assign(h, h + record_header);
      bytes.resize(record_header + len);
      if (pread_all(f.fd, bytes.data() + record_header, len, pos + record_header)
            != static_cast<ssize_t>(len)
          || record_crc(h, bytes.data() + record_header, len) != load32(h + 16))
        break;
      if (prev != 0 && seq != prev + 1)
        break;
      // Folded records are only counted (their number goes on).
      if (seq <= folded_upto_)
        bytes.clear();
      records.push_back(record_ref{seq, i, std::move(bytes)});
      prev = seq;
      pos += record_header + len;
    }
    f.run_end = pos;
  };
  for (int i = 0; i < 2; ++i) {
    auto& f = logs_[i];
    f.path = paths[i];
    bool exists = file_exists(f.path);
    if (!fresh && !exists) {
      // Its changes since the last fold would be lost without a word.
      error = f.path + ": missing: " + path_ + " was written with this log beside it";
      return false;
    }
    if (!exists)
      continue;
    f.fd = ::open(f.path.c_str(), O_RDWR | O_CLOEXEC);
    struct stat sb;
    if (f.fd < 0 || ::fstat(f.fd, &sb) != 0) {
      error = f.path + ": cannot open: " + errno_text();
      return false;
    }
    f.size = static_cast<uint64_t>(sb.st_size);
    std::string id;
    if (!read_header(f, id))
      return false;
    if (!fresh && id != state_id) {
      error = f.path + ": the log of another journal (id " + id + ", " + path_
              + " expects " + state_id + ")";
      return false;
    }
    read_records(i);
    if (fresh && !records.empty() && id != state_id) {
      // Changes of a state file that is gone: not ours to fold.
      error = f.path + ": holds changes, but " + path_
              + " names no log (the log of another journal?)";
      return false;
    }
  }
  if (fresh) {
    // A new journal, or one being migrated: new files (what an earlier,
    // interrupted migration left in them is in the state or the old log).
    auto id = state_id.empty() ? random_id() : state_id;
    for (auto& f : logs_)
      if (!create_log_file(f, id, error))
        return false;
    sync_directory(path_);
    if (state_id.empty()) {
      // From now on the state file expects these files.
      auto sql = "INSERT OR REPLACE INTO meta VALUES ('log_id', '" + id + "')";
      if (!exec(db_, sql.c_str(), error))
        return false;
    }
    current_ = 0;
    return true;
  }
  // Nothing newer than what was read may lie beyond a file's records.
  auto newest = folded_upto_;
  for (auto& r : records)
    newest = std::max(newest, r.seq);
  if (!check_breaks(newest, error))
    return false;
  // The records after the last fold, in order: both files' runs together
  // continue folded_upto without a gap.
  std::sort(records.begin(), records.end(),
            [](const record_ref& a, const record_ref& b) { return a.seq < b.seq; });
  auto expected = folded_upto_ + 1;
  for (size_t i = 0; i < records.size(); ++i) {
    auto& r = records[i];
    last_seq_ = std::max(last_seq_, r.seq);
    if (i > 0 && records[i - 1].seq == r.seq && r.seq > folded_upto_) {
      // Both files hold this number: not one that could be trusted.
      error = logs_[r.file].path + " and " + logs_[records[i - 1].file].path
              + ": corrupt journal log: both hold a record " + std::to_string(r.seq);
      return false;
    }
    if (r.seq < expected)
      continue; // folded already
    if (r.seq > expected) {
      error = logs_[r.file].path + ": corrupt journal log: records " + std::to_string(expected)
              + " to " + std::to_string(r.seq - 1) + " are missing";
      return false;
    }
    if (!keep_record(std::move(r.bytes))) {
      error = logs_[r.file].path + ": corrupt journal: log record " + std::to_string(r.seq)
              + " is malformed";
      return false;
    }
    ++expected;
  }
  // The fold at open covers every record; the commits then start at the
  // beginning of a file (whichever: both hold folded records only).
  current_ = 0;
  logs_[0].pos = log_header_size;
  return true;
}

bool journal::check_breaks(int64_t newest, std::string& error) {
  for (auto& f : logs_) {
    if (f.fd < 0)
      continue;
    // Whole records after the run, numbered above `newest`: found by their
    // magic and checked by their CRC (a damaged record may have lost its
    // length, so the scan does not hop from record to record). Records an
    // earlier round of the file left are numbered lower: skipped before
    // their CRC. The search does not stop at one of them: a page that went
    // back to older contents (a lost write) puts such records in the middle
    // of the current round, with newer ones after them.
    int64_t first_seq = 0;
    int64_t last_seq = 0;
    uint64_t first_pos = 0;
    uint64_t end = 0;
    std::vector<char> chunk(size_t{1} << 20);
    std::vector<char> payload;
    char magic[4];
    store32(magic, record_magic);
    for (auto off = f.run_end; off + record_header <= f.size;) {
      auto want = static_cast<size_t>(std::min<uint64_t>(chunk.size(), f.size - off));
      auto got = pread_all(f.fd, chunk.data(), want, off);
      if (got < static_cast<ssize_t>(record_header)) {
        error = f.path + ": cannot read: " + (got < 0 ? errno_text() : std::string{"short read"});
        return false;
      }
      auto n = static_cast<size_t>(got);
      for (size_t i = 0; i + record_header <= n; ++i) {
        auto* p = static_cast<const char*>(
          std::memchr(chunk.data() + i, magic[0], n - record_header + 1 - i));
        if (p == nullptr)
          break;
        i = static_cast<size_t>(p - chunk.data());
        if (std::memcmp(p, magic, 4) != 0)
          continue;
        auto q = off + i;
        auto len = load32(p + 4);
        auto seq = static_cast<int64_t>(load64(p + 8));
        if (load32(p + 20) != 0 || len == 0 || len > f.size - q - record_header
            || seq <= newest)
          continue;
        payload.resize(len);
        if (pread_all(f.fd, payload.data(), len, q + record_header)
              != static_cast<ssize_t>(len)
            || record_crc(p, payload.data(), len) != load32(p + 16))
          continue;
        if (first_seq == 0) {
          first_seq = seq;
          first_pos = q;
        }
        last_seq = std::max(last_seq, seq);
        end = std::max(end, q + record_header + len);
      }
      if (n < chunk.size())
        break;
      // The next chunk overlaps this one by a header less a byte: a record
      // whose header straddles the two is seen once.
      off += n - (record_header - 1);
    }
    if (first_seq == 0)
      continue;
    auto what = f.path + ": corrupt journal log: the record at offset "
                + std::to_string(f.run_end) + " is damaged, torn or missing, but newer ones follow it (record "
                + std::to_string(first_seq) + " at offset " + std::to_string(first_pos)
                + (last_seq != first_seq ? ", up to record " + std::to_string(last_seq) : "")
                + ")";
    if (full_sync_) {
      error = what
              + ": they were acknowledged (durability sync) and would be lost. If registrard"
                " ran with durability async when the machine lost power, start it once with"
                " --durability async to drop them";
      return false;
    }
    // Erased, durably, before anything new is written: a new record could
    // otherwise end where one of them starts, and it would be read as the
    // next.
    std::vector<char> zeros(static_cast<size_t>(std::min<uint64_t>(end - f.run_end, chunk.size())), 0);
    for (auto off = f.run_end; off < end; off += zeros.size()) {
      auto n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), end - off));
      if (!pwrite_all(f.fd, zeros.data(), n, off)) {
        error = f.path + ": write failed: " + errno_text();
        return false;
      }
    }
    if (::fdatasync(f.fd) != 0) {
      error = f.path + ": fdatasync failed: " + errno_text();
      return false;
    }
    if (!open_warning_.empty())
      open_warning_ += "; ";
    open_warning_ += what + ": dropped (durability async: a power loss can leave this)";
  }
  return true;
}

void journal::rollback(sqlite3* db) {
  std::string ignored;
  exec(db, "ROLLBACK", ignored);
}

bool journal::write(std::vector<journal_entry> entries, std::string& error) {
  // Nothing to append: every earlier write is committed already (the store
  // answers such a batch as a barrier).
  if (entries.empty())
    return true;
  blob_.assign(record_header, 0);
  for (auto& e : entries) {
    put_varint(blob_, static_cast<uint64_t>(e.table));
    put_varint(blob_, e.key.size());
    blob_.insert(blob_.end(), e.key.begin(), e.key.end());
    put_varint(blob_, e.value.size());
    blob_.insert(blob_.end(), e.value.begin(), e.value.end());
  }
  auto seq = last_seq_ + 1;
  if (!memory_) {
    // Until a write succeeds, the commits stay in this file (start_fold):
    // a failed one may have left a whole record numbered `seq` here (its
    // fdatasync failed), and its retry must go over it, not into the
    // other file, where both would be found at open.
    write_failed_ = true;
    auto len = blob_.size() - record_header;
    if (len > std::numeric_limits<uint32_t>::max()) {
      error = logs_[current_].path + ": write failed: a commit of " + std::to_string(len)
              + " bytes";
      return false;
    }
    store32(blob_.data(), record_magic);
    store32(blob_.data() + 4, static_cast<uint32_t>(len));
    store64(blob_.data() + 8, static_cast<uint64_t>(seq));
    store32(blob_.data() + 16, record_crc(blob_.data(), blob_.data() + record_header, len));
    auto& f = logs_[current_];
    auto end = f.pos + blob_.size();
    if (end > f.size && !extend(f, end, error))
      return false;
    // One write, and with `sync` one fdatasync: the record is on disk (a
    // failure leaves it unnumbered: the next record goes over it).
    if (!pwrite_all(f.fd, blob_.data(), blob_.size(), f.pos)) {
      error = f.path + ": write failed: " + errno_text();
      return false;
    }
    if (full_sync_ && ::fdatasync(f.fd) != 0) {
      error = f.path + ": fdatasync failed: " + errno_text();
      return false;
    }
    f.pos = end;
    write_failed_ = false;
  }
  last_seq_ = seq;
  // The record itself is what the fold reads: the entries side by side (a
  // vector of entries would leave each key and value in an allocation of
  // its own, and the fold waiting for memory at every one).
  // A copy at its exact size (blob_ keeps its capacity for the next one).
  pending_entries_ += entries.size();
  pending_.emplace_back(blob_.begin(), blob_.end());
  return true;
}

bool journal::keep_record(std::vector<char> record) {
  size_t n = 0;
  std::string_view payload{record.data() + record_header, record.size() - record_header};
  if (!decode_log(payload, [&n](journal_table, std::string_view, std::string_view) { ++n; }))
    return false;
  pending_.push_back(std::move(record));
  pending_entries_ += n;
  return true;
}

bool journal::load_sqlite_log(sqlite3* table_db, const std::string& file, std::string& error) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(table_db, "SELECT seq, entries FROM log ORDER BY seq", -1, &st,
                         nullptr)
      != SQLITE_OK) {
    error = describe(table_db, file, "cannot read the log");
    return false;
  }
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    auto seq = sqlite3_column_int64(st, 0);
    auto data = static_cast<const char*>(sqlite3_column_blob(st, 1));
    std::string_view blob{data ? data : "", static_cast<size_t>(sqlite3_column_bytes(st, 1))};
    // A record without a header of its own (the fold skips it).
    std::vector<char> record(record_header, 0);
    record.insert(record.end(), blob.begin(), blob.end());
    if (!keep_record(std::move(record))) {
      sqlite3_finalize(st);
      error = file + ": corrupt journal: log row " + std::to_string(seq) + " is malformed";
      return false;
    }
    last_seq_ = seq;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    error = describe(table_db, file, "cannot read the log");
    return false;
  }
  return true;
}

size_t journal::fold_threshold() const noexcept {
  return std::max(min_fold_, base_rows_ / 4);
}

bool journal::next_fold_due() const noexcept {
  return pending_entries_ > 0 && pending_entries_ >= fold_threshold();
}

bool journal::fold_due() const noexcept {
  return fold_task_.valid() || next_fold_due();
}

void journal::start_fold(size_t slice) {
  folding_ = std::move(pending_);
  folding_entries_ = pending_entries_;
  pending_ = std::vector<std::vector<char>>{};
  pending_entries_ = 0;
  fold_upto_ = last_seq_;
  fold_started_ = std::chrono::steady_clock::now();
  // The commits go on in the other file, from its start, once every record
  // in it is folded; after a failed fold they stay where they are (this
  // fold covers both files then), and so they do after a failed write
  // (write()).
  if (!memory_ && !other_dirty_ && !write_failed_) {
    // With `async`, what the file holds reaches the disk before anything
    // written to the other one: a power loss then loses the newest records
    // only, never some in the middle (opening would call that a gap).
    if (!full_sync_)
      ::fdatasync(logs_[current_].fd);
    current_ = 1 - current_;
    logs_[current_].pos = log_header_size;
    other_dirty_ = true;
  }
  // folding_ and the state file belong to the helper until its result is
  // taken (fold_finished).
  fold_task_ = std::async(std::launch::async, [this, slice] { return run_fold(slice); });
}

journal::fold_result journal::run_fold(size_t slice) {
  // Named for top -H and perf (a new thread inherits its creator's name).
  pthread_setname_np(pthread_self(), "regcore.fold");
  fold_result r;
  auto fail = [&](std::string what) {
    r.ok = false;
    r.error = std::move(what);
    return r;
  };
  // With `async` the log's last commits may still be in the page cache: the
  // fold must not reach the disk before what it folds (a power loss would
  // otherwise leave the state file newer than its log).
  if (!full_sync_ && !memory_)
    for (auto& f : logs_)
      ::fdatasync(f.fd);
  // The table's order, (tbl, h, key): neighbouring keys share a page, which
  // is then written once, and the compares are mostly of integers; of the
  // entries of one key only the last (the newest) is written.
  struct keyed {
    journal_table tbl;
    int64_t h;
    std::string_view key;
    std::string_view value;
  };
  // Read in the order they came (the records one after the other), hashed
  // while their bytes are in the cache.
  std::vector<keyed> all;
  all.reserve(folding_entries_);
  for (auto& blob : folding_)
    decode_log(std::string_view{blob.data() + record_header, blob.size() - record_header},
               [&all](journal_table tbl, std::string_view key, std::string_view value) {
                 all.push_back(keyed{tbl, key_hash(key), key, value});
               });
  // Equal keys keep their order (stable): the last one is the newest.
  std::stable_sort(all.begin(), all.end(), [](const keyed& a, const keyed& b) {
    if (a.tbl != b.tbl)
      return a.tbl < b.tbl;
    if (a.h != b.h)
      return a.h < b.h;
    return a.key < b.key;
  });
  std::vector<keyed> newest;
  newest.reserve(all.size());
  for (size_t i = 0; i < all.size(); ++i)
    if (i + 1 == all.size() || all[i + 1].tbl != all[i].tbl || all[i + 1].h != all[i].h
        || all[i + 1].key != all[i].key)
      newest.push_back(all[i]);
  all = std::vector<keyed>{};
  size_t slices = 0;
  for (size_t pos = 0; pos < newest.size(); ++slices) {
    if (stopping_.load(std::memory_order_relaxed))
      return fail(path_ + ": fold stopped: the journal is closing");
    if (stop_after_ > 0 && slices == stop_after_) {
      stop_after_ = 0;
      return fail(path_ + ": fold stopped (test)");
    }
    auto end = pos + std::min(slice, newest.size() - pos);
    // The last slice makes the whole fold durable (its fsync covers the
    // slices before it, which are earlier in the same WAL).
    bool last = end == newest.size();
    std::string error;
    if (last && !exec(db_, "PRAGMA synchronous = FULL", error))
      return fail(error);
    int64_t added = 0;
    size_t misses = 0;
    bool ok = exec(db_, "BEGIN", error);
    if (ok && last) {
      // With the last keys: the log records up to here are folded.
      auto sql = "INSERT OR REPLACE INTO meta VALUES ('folded_upto', '"
                 + std::to_string(fold_upto_) + "')";
      ok = exec(db_, sql.c_str(), error);
    }
    // Every 256 keys, the statement that missed more than half of them
    // stops going first (also within a slice: the fold at open is one).
    constexpr size_t window = 256;
    for (auto i = pos; ok && i < end; ++i) {
      // The entries lie in the order they came, the fold goes in the
      // table's: fetch the next ones ahead (key and value are adjacent).
      if (i + 4 < end)
        __builtin_prefetch(newest[i + 4].key.data());
      auto& k = newest[i];
      if (!apply(k.tbl, k.key, k.value, k.h, added, misses)) {
        error = describe(db_, path_, "fold failed");
        ok = false;
      }
      if ((i - pos + 1) % window == 0 || i + 1 == end) {
        auto n = (i - pos) % window + 1;
        if (misses * 2 > n)
          insert_first_ = !insert_first_;
        misses = 0;
      }
    }
    ok = ok && exec(db_, "COMMIT", error);
    if (!ok)
      rollback(db_);
    if (last) {
      std::string ignored;
      exec(db_, "PRAGMA synchronous = NORMAL", ignored);
    }
    if (!ok)
      return fail(error);
    r.rows_added += added;
    pos = end;
  }
  r.keys = newest.size();
  return r;
}

bool journal::apply(journal_table table, std::string_view k, std::string_view value,
                    int64_t h, int64_t& rows_added, size_t& misses) {
  auto tbl = static_cast<int>(table);
  auto key = k.data();
  auto key_len = static_cast<int>(k.size());
  auto run = [&](sqlite3_stmt* st, bool with_value) {
    sqlite3_bind_int(st, 1, tbl);
    sqlite3_bind_text(st, 2, key, key_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, h);
    if (with_value)
      sqlite3_bind_blob(st, 3, value.data(), static_cast<int>(value.size()),
                        SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE;
  };
  if (value.empty()) {
    if (!run(erase_, false))
      return false;
    rows_added -= sqlite3_changes(db_);
    return true;
  }
  // Refreshes find their row, new users do not: the statement that the
  // last slice found right more often goes first (a miss costs a second
  // B-tree search). Rows are counted exactly.
  auto first = insert_first_ ? insert_ : update_;
  auto second = insert_first_ ? update_ : insert_;
  if (!run(first, true))
    return false;
  if (sqlite3_changes(db_) > 0) {
    rows_added += insert_first_ ? 1 : 0;
    return true;
  }
  ++misses;
  if (!run(second, true))
    return false;
  rows_added += insert_first_ ? 0 : sqlite3_changes(db_);
  return true;
}

bool journal::fold_finished(bool wait, std::string& error) {
  if (!wait && fold_task_.wait_for(std::chrono::seconds{0}) != std::future_status::ready)
    return true;
  auto r = fold_task_.get();
  if (!r.ok) {
    // Nothing is lost: the entries go back before those appended since,
    // and the next fold starts with them (their log rows are all there).
    error = std::move(r.error);
    folding_.insert(folding_.end(), std::make_move_iterator(pending_.begin()),
                    std::make_move_iterator(pending_.end()));
    pending_ = std::move(folding_);
    pending_entries_ += folding_entries_;
    folding_ = std::vector<std::vector<char>>{};
    return false;
  }
  auto rows = static_cast<int64_t>(base_rows_) + r.rows_added;
  base_rows_ = rows > 0 ? static_cast<size_t>(rows) : 0;
  last_fold_keys_ = r.keys;
  folding_ = std::vector<std::vector<char>>{};
  // Every key is on disk in the state file: the file the fold covered can
  // be written over.
  other_dirty_ = false;
  folded_upto_ = fold_upto_;
  ++folds_;
  last_fold_us_ = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - fold_started_)
                    .count();
  return true;
}

bool journal::fold_step(std::string& error, bool wait) {
  if (fold_task_.valid()) {
    // The next fold is due before this one is done: the helper does not
    // keep up, and the store waits for it rather than let the log and the
    // entries held for it grow without bound (the commits pause; with
    // `sync` the clients wait).
    return fold_finished(wait || next_fold_due(), error);
  }
  if (next_fold_due())
    start_fold(fold_slice_);
  return true;
}

bool journal::fold_all(std::string& error) {
  // The fold under way, then one of everything appended since.
  for (;;) {
    if (fold_task_.valid() && !fold_finished(true, error))
      return false;
    if (pending_entries_ == 0)
      return true;
    // Nothing else goes on (opening, or a scan): one transaction, so
    // that each page is written once and checkpointed once (with slices of
    // 1024 keys, folding 470k keys at open took 3.6 s instead of ~1).
    start_fold(std::numeric_limits<size_t>::max());
  }
}

bool journal::scan(journal_table table,
                   const std::function<void(std::string_view, std::string_view)>& fn,
                   std::string& error) {
  if (!fold_all(error))
    return false;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT key, value FROM journal WHERE tbl = ?1", -1, &st,
                         nullptr)
      != SQLITE_OK) {
    error = describe(db_, path_, "cannot read the journal");
    return false;
  }
  sqlite3_bind_int(st, 1, static_cast<int>(table));
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    auto key = static_cast<const char*>(sqlite3_column_blob(st, 0));
    auto key_len = static_cast<size_t>(sqlite3_column_bytes(st, 0));
    auto value = static_cast<const char*>(sqlite3_column_blob(st, 1));
    auto value_len = static_cast<size_t>(sqlite3_column_bytes(st, 1));
    fn(std::string_view{key ? key : "", key_len},
       std::string_view{value ? value : "", value_len});
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    error = describe(db_, path_, "read failed");
    return false;
  }
  return true;
}

size_t journal::count(journal_table table) {
  std::string error;
  if (!fold_all(error))
    return 0;
  return count_rows(db_, "SELECT count(*) FROM journal WHERE tbl = ?1",
                    static_cast<int>(table));
}

// -- record bytes -------------------------------------------------------------------

// The rows are written with the same inspect() overloads as the wire, but
// through a small inspector of our own: CAF 0.17's binary_serializer costs
// ~5,000 instructions per user record (virtual calls per field), this one a
// few hundred. Format (record_format 1): unsigned integers and enums as
// LEB128 varints, signed ones zig-zagged, bool one byte, strings and
// vectors a varint length then the items, time points their signed tick
// count, std::optional a bool then the value; CAF's annotations (type
// names) write nothing.

namespace {

template <class T>
constexpr bool is_annotation = std::is_base_of_v<caf::meta::annotation, std::decay_t<T>>;

class record_writer {
public:
  using result_type = bool;
  static constexpr bool reads_state = true;
  static constexpr bool writes_state = false;

  explicit record_writer(std::vector<char>& out) : out_(out) {
    // nop
  }

  template <class... Ts>
  bool operator()(Ts&&... xs) {
    return (apply(xs) && ...);
  }

private:
  void varint(uint64_t x) {
    put_varint(out_, x);
  }

  template <class T>
  bool apply(T& x) {
    using plain = std::decay_t<T>;
    if constexpr (is_annotation<plain>) {
      return true;
    } else if constexpr (std::is_same_v<plain, bool>) {
      out_.push_back(x ? 1 : 0);
      return true;
    } else if constexpr (std::is_enum_v<plain>) {
      varint(static_cast<uint64_t>(static_cast<std::underlying_type_t<plain>>(x)));
      return true;
    } else if constexpr (std::is_integral_v<plain> && std::is_unsigned_v<plain>) {
      varint(x);
      return true;
    } else if constexpr (std::is_integral_v<plain>) {
      auto v = static_cast<int64_t>(x);
      varint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
      return true;
    } else if constexpr (std::is_same_v<plain, std::string>) {
      varint(x.size());
      out_.insert(out_.end(), x.begin(), x.end());
      return true;
    } else if constexpr (std::is_same_v<plain, core::time_point>) {
      int64_t ticks = x.time_since_epoch().count();
      return apply(ticks);
    } else if constexpr (caf::detail::is_list_like<plain>::value) {
      varint(x.size());
      for (auto& item : x)
        if (!apply(item))
          return false;
      return true;
    } else {
      return inspect(*this, x);
    }
  }

  std::vector<char>& out_;
};

class record_reader {
public:
  using result_type = bool;
  static constexpr bool reads_state = false;
  static constexpr bool writes_state = true;

  explicit record_reader(std::string_view in) : in_(in) {
    // nop
  }

  template <class... Ts>
  bool operator()(Ts&&... xs) {
    return (apply(xs) && ...);
  }

  bool at_end() const noexcept {
    return pos_ == in_.size();
  }

private:
  bool varint(uint64_t& x) {
    return get_varint(in_, pos_, x);
  }

  template <class T>
  bool apply(T& x) {
    using plain = std::decay_t<T>;
    if constexpr (is_annotation<plain>) {
      return true;
    } else if constexpr (std::is_same_v<plain, bool>) {
      if (pos_ == in_.size() || static_cast<uint8_t>(in_[pos_]) > 1)
        return false;
      x = in_[pos_++] == 1;
      return true;
    } else if constexpr (std::is_enum_v<plain>) {
      uint64_t v;
      if (!varint(v))
        return false;
      x = static_cast<plain>(static_cast<std::underlying_type_t<plain>>(v));
      return true;
    } else if constexpr (std::is_integral_v<plain> && std::is_unsigned_v<plain>) {
      uint64_t v;
      if (!varint(v) || v > std::numeric_limits<plain>::max())
        return false;
      x = static_cast<plain>(v);
      return true;
    } else if constexpr (std::is_integral_v<plain>) {
      uint64_t v;
      if (!varint(v))
        return false;
      auto s = static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
      if (s < std::numeric_limits<plain>::min() || s > std::numeric_limits<plain>::max())
        return false;
      x = static_cast<plain>(s);
      return true;
    } else if constexpr (std::is_same_v<plain, std::string>) {
      uint64_t n;
      if (!varint(n) || n > in_.size() - pos_)
        return false;
      x.assign(in_.data() + pos_, n);
      pos_ += n;
      return true;
    } else if constexpr (std::is_same_v<plain, core::time_point>) {
      int64_t ticks;
      if (!apply(ticks))
        return false;
      x = core::time_point{core::duration{ticks}};
      return true;
    } else if constexpr (caf::detail::is_list_like<plain>::value) {
      uint64_t n;
      // Every item takes at least one byte: a length beyond what is left is
      // corrupt (and must not make us allocate it).
      if (!varint(n) || n > in_.size() - pos_)
        return false;
      x.clear();
      x.reserve(n);
      for (uint64_t i = 0; i < n; ++i) {
        typename plain::value_type item{};
        if (!apply(item))
          return false;
        x.push_back(std::move(item));
      }
      return true;
    } else {
      return inspect(*this, x);
    }
  }

  std::string_view in_;
  size_t pos_ = 0;
};

} // namespace

template <class T>
std::vector<char> to_bytes(const T& x) {
  // Written into a buffer of this thread that keeps its capacity, then
  // copied once at its exact size (no growth on the way).
  thread_local std::vector<char> scratch;
  scratch.clear();
  record_writer f{scratch};
  // inspect() takes a non-const reference also for saving, which only reads.
  if (!f(const_cast<T&>(x)))
    return {};
  return std::vector<char>(scratch.begin(), scratch.end());
}

template <class T>
bool from_bytes(std::string_view bytes, T& x) {
  record_reader f{bytes};
  return f(x) && f.at_end();
}

template std::vector<char> to_bytes(const user_record&);
template bool from_bytes(std::string_view, user_record&);
template std::vector<char> to_bytes(const core::presence_policy&);
template bool from_bytes(std::string_view, core::presence_policy&);

} // namespace regcore::actors
