// SPDX-License-Identifier: MIT
#include "actors/journal.hpp"

#include <sqlite3.h>

#include <limits>
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
  // Rows land on random pages (keys are AORs): a page cache that holds the
  // whole table keeps an upsert from reading its page back from the file
  // (SQLite's default is 2 MB; with this, sync registrations in batches went
  // from ~154k/s to ~210k/s, docs/performance.md). 256 MB is an upper bound,
  // used only as the table grows.
  if (!j->exec("PRAGMA cache_size = -262144", error))
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
    while (x >= 0x80) {
      out_.push_back(static_cast<char>((x & 0x7F) | 0x80));
      x >>= 7;
    }
    out_.push_back(static_cast<char>(x));
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
    x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ == in_.size())
        return false;
      auto b = static_cast<uint8_t>(in_[pos_++]);
      x |= uint64_t{b & 0x7Fu} << shift;
      if ((b & 0x80) == 0)
        return true;
    }
    return false;
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
  std::vector<char> buf;
  buf.reserve(256);
  record_writer f{buf};
  // inspect() takes a non-const reference also for saving, which only reads.
  if (!f(const_cast<T&>(x)))
    buf.clear();
  return buf;
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
