// SPDX-License-Identifier: MIT
#include "actors/journal.hpp"

#include <sqlite3.h>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/execution_unit.hpp>

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

size_t user_tables(sqlite3* db) {
  sqlite3_stmt* st = nullptr;
  size_t n = 0;
  if (sqlite3_prepare_v2(db,
                         "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                         -1, &st, nullptr)
      != SQLITE_OK)
    return 0;
  if (sqlite3_step(st) == SQLITE_ROW)
    n = static_cast<size_t>(sqlite3_column_int64(st, 0));
  sqlite3_finalize(st);
  return n;
}

} // namespace

journal::journal(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {
  // nop
}

journal::~journal() {
  sqlite3_finalize(upsert_);
  sqlite3_finalize(erase_);
  sqlite3_close(db_);
}

std::string journal::describe(const char* what) const {
  std::string msg = path_;
  msg += ": ";
  msg += what;
  msg += ": ";
  msg += sqlite3_errmsg(db_);
  return msg;
}

bool journal::exec(const char* sql, std::string& error) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) == SQLITE_OK)
    return true;
  error = path_ + ": " + (msg ? msg : sqlite3_errmsg(db_));
  sqlite3_free(msg);
  return false;
}

bool journal::prepare(std::string& error) {
  if (sqlite3_prepare_v2(db_,
                         "INSERT INTO journal (tbl, key, value) VALUES (?1, ?2, ?3) "
                         "ON CONFLICT (tbl, key) DO UPDATE SET value = excluded.value",
                         -1, &upsert_, nullptr)
        != SQLITE_OK
      || sqlite3_prepare_v2(db_, "DELETE FROM journal WHERE tbl = ?1 AND key = ?2", -1,
                            &erase_, nullptr)
           != SQLITE_OK) {
    error = describe("cannot prepare the journal statements");
    return false;
  }
  return true;
}

std::unique_ptr<journal> journal::open(const std::string& path, durability mode,
                                       std::string& error) {
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
  std::unique_ptr<journal> j{new journal(db, path)};
  // A file that is not a database fails here ("file is not a database").
  if (!j->exec("PRAGMA journal_mode = WAL", error))
    return nullptr;
  auto sync_level = mode == durability::sync ? "PRAGMA synchronous = FULL"
                                             : "PRAGMA synchronous = NORMAL";
  if (!j->exec(sync_level, error))
    return nullptr;
  if (has_table(db, "meta")) {
    auto app = meta_value(db, "application");
    if (app != application) {
      error = path + ": not a registrar-core journal (application '" + app + "')";
      return nullptr;
    }
    auto schema = meta_value(db, "schema_version");
    if (schema != std::to_string(schema_version)) {
      // Version 1 is the first: there is nothing to migrate from yet. A newer
      // file must not be rewritten by an older build.
      error = path + ": journal schema version " + schema + ", this build reads "
              + std::to_string(schema_version);
      return nullptr;
    }
    auto format = meta_value(db, "record_format");
    if (format != std::to_string(record_format)) {
      error = path + ": journal record format " + format + ", this build reads "
              + std::to_string(record_format);
      return nullptr;
    }
  } else if (user_tables(db) > 0) {
    error = path + ": not a registrar-core journal (a database with other tables)";
    return nullptr;
  } else {
    std::string create
      = "BEGIN;"
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "CREATE TABLE journal (tbl INTEGER NOT NULL, key TEXT NOT NULL,"
        " value BLOB NOT NULL, PRIMARY KEY (tbl, key)) WITHOUT ROWID;"
        "INSERT INTO meta VALUES ('application', '"
        + std::string{application}
        + "');"
          "INSERT INTO meta VALUES ('schema_version', '"
        + std::to_string(schema_version)
        + "');"
          "INSERT INTO meta VALUES ('record_format', '"
        + std::to_string(record_format) + "');COMMIT;";
    if (!j->exec(create.c_str(), error))
      return nullptr;
  }
  if (!j->prepare(error))
    return nullptr;
  return j;
}

bool journal::write(const std::vector<journal_entry>& entries, std::string& error) {
  if (!exec("BEGIN", error))
    return false;
  for (auto& e : entries) {
    auto tbl = static_cast<int>(e.table);
    sqlite3_stmt* st = e.value.empty() ? erase_ : upsert_;
    sqlite3_bind_int(st, 1, tbl);
    sqlite3_bind_text(st, 2, e.key.data(), static_cast<int>(e.key.size()),
                      SQLITE_STATIC);
    if (!e.value.empty())
      sqlite3_bind_blob(st, 3, e.value.data(), static_cast<int>(e.value.size()),
                        SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
      error = describe("write failed");
      std::string ignored;
      exec("ROLLBACK", ignored);
      return false;
    }
  }
  if (!exec("COMMIT", error)) {
    std::string ignored;
    exec("ROLLBACK", ignored);
    return false;
  }
  return true;
}

bool journal::scan(journal_table table,
                   const std::function<void(std::string_view, std::string_view)>& fn,
                   std::string& error) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT key, value FROM journal WHERE tbl = ?1", -1, &st,
                         nullptr)
      != SQLITE_OK) {
    error = describe("cannot read the journal");
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
    error = describe("read failed");
    return false;
  }
  return true;
}

size_t journal::count(journal_table table) {
  sqlite3_stmt* st = nullptr;
  size_t n = 0;
  if (sqlite3_prepare_v2(db_, "SELECT count(*) FROM journal WHERE tbl = ?1", -1, &st,
                         nullptr)
      != SQLITE_OK)
    return 0;
  sqlite3_bind_int(st, 1, static_cast<int>(table));
  if (sqlite3_step(st) == SQLITE_ROW)
    n = static_cast<size_t>(sqlite3_column_int64(st, 0));
  sqlite3_finalize(st);
  return n;
}

// -- record bytes -------------------------------------------------------------------

template <class T>
std::vector<char> to_bytes(const T& x) {
  std::vector<char> buf;
  caf::binary_serializer sink{static_cast<caf::execution_unit*>(nullptr), buf};
  // CAF 0.17's inspect() takes a non-const reference even for saving, which
  // reads only.
  if (auto err = sink(const_cast<T&>(x)))
    buf.clear();
  return buf;
}

template <class T>
bool from_bytes(std::string_view bytes, T& x) {
  caf::binary_deserializer source{static_cast<caf::execution_unit*>(nullptr),
                                  bytes.data(), bytes.size()};
  if (auto err = source(x))
    return false;
  return source.remaining() == 0;
}

template std::vector<char> to_bytes(const user_record&);
template bool from_bytes(std::string_view, user_record&);
template std::vector<char> to_bytes(const core::presence_policy&);
template bool from_bytes(std::string_view, core::presence_policy&);

} // namespace regcore::actors
