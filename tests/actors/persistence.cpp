// SPDX-License-Identifier: MIT
#define CAF_SUITE actors.persistence
#include <caf/test/dsl.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <sqlite3.h>
#include <unistd.h>

#include "actors/engine.hpp"
#include "actors/journal.hpp"
#include "actors/store.hpp"
#include "actors/subscription_supervisor.hpp"
#include "messages/error.hpp"
#include "messages/types.hpp"
#include "tests/actors/support.hpp"

using namespace regcore;
using namespace std::chrono_literals;

namespace {

using test_support::open_journal;
using test_support::temp_db;

size_t rows(const std::string& path, journal_table t) {
  return open_journal(path, durability::async)->count(t);
}

// -- a recording event subscriber -------------------------------------------------------

using test_support::recorder;
using test_support::recorder_state;
using config = test_support::registered_types_config;

const std::string alice = "sip:alice@example.com";
const std::string bob = "sip:bob@example.com";
const std::string carol = "sip:carol@example.com";
const std::string mallory = "sip:mallory@example.com";

struct fixture : test_coordinator_fixture<config> {
  temp_db db;
  actors::engine eng;
  caf::actor rec;
  /// Wall clock = this base + the simulated steady clock. A restarted
  /// process has another steady clock: changing the base simulates it.
  std::chrono::system_clock::duration wall_base = 1'700'000'000s;
  uint32_t cseq = 0;

  fixture() {
    auto& t = sched.clock().current_time;
    t = std::chrono::ceil<std::chrono::seconds>(t.time_since_epoch())
        + core::time_point{};
  }

  ~fixture() {
    stop();
  }

  actors::engine_config make_cfg(durability mode) {
    actors::engine_config ecfg;
    ecfg.shards = 2;
    ecfg.persistence = mode;
    ecfg.store_thread = false; // the test coordinator drives every actor
    ecfg.wall_clock = [this] {
      return std::chrono::system_clock::time_point{
        wall_base
        + std::chrono::duration_cast<std::chrono::system_clock::duration>(
          sched.clock().current_time.time_since_epoch())};
    };
    return ecfg;
  }

  /// Starts an engine on the journal file (as a restarted daemon would).
  void start(durability mode = durability::sync) {
    auto e = actors::spawn_engine(sys, make_cfg(mode), open_journal(db.path, mode));
    if (!e)
      CAF_FAIL("spawn_engine: " << sys.render(e.error()));
    eng = std::move(*e);
    rec = sys.spawn(recorder);
    sched.run();
    auto rh = self->request(eng.refs->bus, caf::infinite, bus_subscribe{rec, all_events});
    sched.run();
    rh.receive([](caf::ok_atom) {}, [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  }

  /// Stops the engine cleanly (everything accepted is committed).
  void stop() {
    if (eng.service) {
      eng.shutdown();
      sched.run();
      eng = actors::engine{};
    }
    if (rec) {
      anon_send_exit(rec, caf::exit_reason::user_shutdown);
      sched.run();
      rec = nullptr;
    }
  }

  template <class Reply, class Request>
  caf::expected<Reply> call(Request req) {
    caf::expected<Reply> result{caf::sec::request_timeout};
    auto rh = self->request(eng.service, caf::infinite, std::move(req));
    sched.run();
    rh.receive([&](Reply& x) { result = std::move(x); },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  register_request reg_req(std::string aor, std::string uri, uint32_t expires) {
    register_request req;
    req.aor = std::move(aor);
    contact_request c;
    c.uri = std::move(uri);
    c.expires = expires;
    req.contacts.push_back(std::move(c));
    req.call_id = "call-1@test";
    req.cseq = ++cseq;
    return req;
  }

  caf::expected<register_reply> reg(std::string aor, std::string uri,
                                    uint32_t expires = 3600) {
    return call<register_reply>(reg_req(std::move(aor), std::move(uri), expires));
  }

  caf::expected<subscribe_reply> sub(std::string watcher, std::string target,
                                     uint32_t expires = 600) {
    subscribe_request req;
    req.watcher = std::move(watcher);
    req.target = std::move(target);
    req.expires = expires;
    req.dialog.call_id = "sub-call@test";
    req.dialog.remote_tag = "w-tag";
    req.dialog.local_tag = "p-tag";
    req.dialog.remote_target = "sip:w@192.0.2.9:5060";
    req.dialog.local_cseq = 7;
    return call<subscribe_reply>(std::move(req));
  }

  template <class Event>
  std::vector<Event> events_of() {
    std::vector<Event> xs;
    for (auto& m : deref<caf::stateful_actor<recorder_state>>(rec).state.events)
      if (m.match_elements<Event>())
        xs.push_back(m.get_as<Event>(0));
    return xs;
  }

  void pass(caf::timespan d) {
    advance_time(d);
    sched.run();
  }
};

bool is(const caf::error& err, core::errc code) {
  return messages::is(err, code);
}

} // namespace

// -- the journal file ---------------------------------------------------------------------

CAF_TEST(journal rows are upserted erased and read back) {
  temp_db db;
  auto j = open_journal(db.path);
  std::string err;
  auto entry = [](std::string key, std::string value) {
    return journal_entry{journal_table::users, std::move(key),
                         std::vector<char>(value.begin(), value.end())};
  };
  CAF_REQUIRE(j->write({entry("a", "1"), entry("b", "2"), entry("a", "3")}, err));
  CAF_CHECK_EQUAL(j->count(journal_table::users), 2u);
  CAF_CHECK_EQUAL(j->count(journal_table::policies), 0u);
  CAF_REQUIRE(j->write({entry("b", "")}, err)); // empty value: erase
  std::map<std::string, std::string> seen;
  CAF_REQUIRE(j->scan(journal_table::users,
                      [&](std::string_view k, std::string_view v) {
                        seen.emplace(std::string{k}, std::string{v});
                      },
                      err));
  CAF_CHECK_EQUAL(seen.size(), 1u);
  CAF_CHECK_EQUAL(seen["a"], "3");
  j.reset();
  // Reopened: the same rows.
  CAF_CHECK_EQUAL(rows(db.path, journal_table::users), 1u);
}

namespace {

journal_entry text_entry(std::string key, std::string value) {
  return journal_entry{journal_table::users, std::move(key),
                       std::vector<char>(value.begin(), value.end())};
}

std::map<std::string, std::string> all_users(actors::journal& j) {
  std::map<std::string, std::string> seen;
  std::string err;
  CAF_REQUIRE(j.scan(journal_table::users,
                     [&](std::string_view k, std::string_view v) {
                       seen.emplace(std::string{k}, std::string{v});
                     },
                     err));
  return seen;
}

/// Rows of the keyed table, read through a connection of its own (no fold).
size_t keyed_rows(const std::string& path) {
  sqlite3* raw = nullptr;
  size_t n = 0;
  if (sqlite3_open(path.c_str(), &raw) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(raw, "SELECT count(*) FROM journal", -1, &st, nullptr)
          == SQLITE_OK
        && sqlite3_step(st) == SQLITE_ROW)
      n = static_cast<size_t>(sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
  }
  sqlite3_close(raw);
  return n;
}

/// The schema_version of the meta table of the database `path`.
std::string schema_of(const std::string& path) {
  sqlite3* raw = nullptr;
  std::string result;
  if (sqlite3_open(path.c_str(), &raw) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(raw, "SELECT value FROM meta WHERE key = 'schema_version'", -1,
                           &st, nullptr)
          == SQLITE_OK
        && sqlite3_step(st) == SQLITE_ROW)
      result = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
  }
  sqlite3_close(raw);
  return result;
}

bool run_sql(const std::string& path, const char* sql) {
  sqlite3* raw = nullptr;
  bool ok = sqlite3_open(path.c_str(), &raw) == SQLITE_OK
            && sqlite3_exec(raw, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
  sqlite3_close(raw);
  return ok;
}

} // namespace

CAF_TEST(a commit appends one log row and the fold writes the keyed table) {
  temp_db db;
  auto j = open_journal(db.path, durability::async);
  j->set_min_fold(4);
  j->set_fold_slice(2);
  std::string err;
  CAF_REQUIRE(j->write({text_entry("a", "1"), text_entry("b", "2")}, err));
  CAF_REQUIRE(j->write({text_entry("c", "3"), text_entry("a", "4")}, err));
  CAF_CHECK_EQUAL(j->log_rows(), 2u);
  CAF_CHECK_EQUAL(keyed_rows(db.path), 0u);
  CAF_CHECK(j->fold_due()); // 4 entries appended
  CAF_REQUIRE(j->fold_step(err)); // starts the fold on the helper thread
  // Writes during the fold go to the log and the next fold.
  CAF_REQUIRE(j->write({text_entry("b", ""), text_entry("d", "5")}, err));
  CAF_REQUIRE(j->fold_step(err, true)); // a, b, c written (2 slices)
  CAF_CHECK_EQUAL(keyed_rows(db.path), 3u);
  CAF_CHECK_EQUAL(j->log_rows(), 3u); // deleted only once the fold is on disk
  CAF_CHECK(j->fold_due());           // the folded rows are still to delete
  CAF_REQUIRE(j->fold_step(err));     // deletes rows 1-2
  CAF_CHECK_EQUAL(j->log_rows(), 1u);
  CAF_CHECK_EQUAL(j->folds(), 1u);
  CAF_CHECK_EQUAL(j->last_fold_keys(), 3u);
  CAF_CHECK(!j->fold_due()); // 2 entries since the fold began
  auto seen = all_users(*j); // folds the rest
  CAF_CHECK_EQUAL(j->log_rows(), 0u);
  std::map<std::string, std::string> want{{"a", "4"}, {"c", "3"}, {"d", "5"}};
  CAF_CHECK_EQUAL(seen, want);
  CAF_CHECK_EQUAL(j->count(journal_table::users), 3u);
  // The sequence goes on after the log was emptied: a row written while
  // the last folded rows are deleted is not one of them.
  j->set_min_fold(1);
  j->set_trim_rows(1);
  CAF_REQUIRE(j->write({text_entry("e", "6")}, err));
  CAF_REQUIRE(j->fold_step(err));
  CAF_REQUIRE(j->fold_step(err, true)); // e folded
  CAF_REQUIRE(j->fold_step(err));       // deletes its row: the log is empty
  CAF_CHECK_EQUAL(j->log_rows(), 0u);
  CAF_CHECK(j->fold_due()); // a full step: more could follow
  CAF_REQUIRE(j->write({text_entry("f", "7")}, err));
  CAF_REQUIRE(j->fold_step(err)); // deletes nothing: f is newer
  CAF_CHECK_EQUAL(j->log_rows(), 1u);
  CAF_CHECK_EQUAL(j->folds(), 3u); // the scan above folded d
}

CAF_TEST(a fold that falls behind holds the commits back and rows are never doubled) {
  temp_db db;
  auto j = open_journal(db.path, durability::async);
  j->set_min_fold(2);
  j->set_fold_slice(1);
  std::string err;
  CAF_REQUIRE(j->write({text_entry("a", "1"), text_entry("b", "1")}, err));
  CAF_REQUIRE(j->fold_step(err)); // the fold of a and b starts
  CAF_REQUIRE(j->write({text_entry("c", "1"), text_entry("d", "1")}, err));
  // The next fold is due already: this step waits for the first.
  CAF_REQUIRE(j->fold_step(err));
  CAF_CHECK_EQUAL(keyed_rows(db.path), 2u);
  CAF_CHECK(j->fold_due());
  // New keys (the fold goes on inserting first), then changes of stored
  // ones (it finds them all the same, and goes back to updating first).
  CAF_CHECK_EQUAL(j->count(journal_table::users), 4u);
  CAF_REQUIRE(j->write({text_entry("a", "2"), text_entry("e", "1")}, err));
  CAF_REQUIRE(j->write({text_entry("b", "2"), text_entry("c", "")}, err));
  std::map<std::string, std::string> want{{"a", "2"}, {"b", "2"}, {"d", "1"}, {"e", "1"}};
  CAF_CHECK_EQUAL(all_users(*j), want);
  CAF_CHECK_EQUAL(keyed_rows(db.path), 4u);
  CAF_CHECK_EQUAL(j->log_rows(), 0u);
}

CAF_TEST(a crash in the middle of a fold loses nothing) {
  temp_db db;
  std::map<std::string, std::string> want;
  {
    auto j = open_journal(db.path, durability::sync);
    j->set_min_fold(8);
    j->set_fold_slice(3);
    j->stop_fold_after(1);
    std::string err;
    for (int round = 0; round < 3; ++round) {
      std::vector<journal_entry> batch;
      for (int k = 0; k < 6; ++k) {
        auto key = "k" + std::to_string((k * 7 + round) % 10);
        auto value = std::to_string(round) + "." + std::to_string(k);
        want[key] = value;
        batch.push_back(text_entry(key, value));
      }
      CAF_REQUIRE(j->write(std::move(batch), err));
    }
    CAF_REQUIRE(j->write({text_entry("k3", "")}, err));
    want.erase("k3");
    // One slice of a fold, then the process is gone.
    CAF_REQUIRE(j->fold_step(err));
    CAF_CHECK(!j->fold_step(err, true));
    CAF_MESSAGE("stopped: " << err);
    // The first 3 keys in the table's order (one may be k3's erase).
    auto written = keyed_rows(db.path);
    CAF_CHECK(written >= 2 && written <= 3);
    CAF_CHECK_EQUAL(j->log_rows(), 4u);
  }
  // Opening folds what the log still holds, newest value per key.
  auto j = open_journal(db.path, durability::sync);
  CAF_CHECK_EQUAL(j->log_rows(), 0u);
  CAF_CHECK_EQUAL(keyed_rows(db.path), want.size());
  CAF_CHECK_EQUAL(all_users(*j), want);
}

CAF_TEST(a crash while the folded log rows are deleted loses nothing) {
  temp_db db;
  {
    auto j = open_journal(db.path, durability::sync);
    j->set_min_fold(3);
    j->set_trim_rows(1);
    std::string err;
    CAF_REQUIRE(j->write({text_entry("a", "1"), text_entry("b", "1")}, err));
    CAF_REQUIRE(j->write({text_entry("a", "2")}, err));
    CAF_REQUIRE(j->write({text_entry("b", "")}, err));
    CAF_REQUIRE(j->fold_step(err));
    CAF_REQUIRE(j->fold_step(err, true)); // a = 2 written, b never
    CAF_CHECK_EQUAL(keyed_rows(db.path), 1u);
    CAF_CHECK_EQUAL(j->log_rows(), 3u);
    CAF_REQUIRE(j->fold_step(err)); // deletes row 1 (a = 1, b = 1) only
    CAF_CHECK_EQUAL(j->log_rows(), 2u);
    CAF_CHECK(j->fold_due());
  } // the process is gone: rows 2 and 3 replay at open
  auto j = open_journal(db.path, durability::sync);
  CAF_CHECK_EQUAL(j->log_rows(), 0u);
  std::map<std::string, std::string> want{{"a", "2"}};
  CAF_CHECK_EQUAL(all_users(*j), want);
}

CAF_TEST(schema 1 and 2 journals are migrated and a malformed log row is an error) {
  temp_db db;
  // Schema 1: the keyed table only.
  CAF_REQUIRE(run_sql(db.path,
                      "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                      "CREATE TABLE journal (tbl INTEGER NOT NULL, key TEXT NOT NULL,"
                      " value BLOB NOT NULL, PRIMARY KEY (tbl, key)) WITHOUT ROWID;"
                      "INSERT INTO meta VALUES ('application', 'registrar-core');"
                      "INSERT INTO meta VALUES ('schema_version', '1');"
                      "INSERT INTO meta VALUES ('record_format', '1');"
                      "INSERT INTO journal VALUES (1, 'old', X'6F6C64');"));
  {
    auto j = open_journal(db.path);
    std::map<std::string, std::string> want{{"old", "old"}};
    CAF_CHECK_EQUAL(all_users(*j), want);
    std::string err;
    CAF_REQUIRE(j->write({text_entry("new", "x")}, err));
    CAF_CHECK_EQUAL(j->log_rows(), 1u);
  }
  CAF_CHECK_EQUAL(schema_of(db.path), "3");
  CAF_CHECK_EQUAL(schema_of(actors::journal::log_path(db.path)), "3");
  // A log row whose bytes are cut short: a clear error, the files untouched.
  auto log = actors::journal::log_path(db.path);
  CAF_REQUIRE(run_sql(log, "INSERT INTO log VALUES (7, X'0005616263')"));
  std::string err;
  CAF_CHECK(actors::journal::open(db.path, durability::sync, err) == nullptr);
  CAF_MESSAGE("malformed log: " << err);
  CAF_CHECK_NOT_EQUAL(err.find("corrupt journal"), std::string::npos);
  CAF_CHECK_NOT_EQUAL(err.find(log), std::string::npos);
  CAF_CHECK_EQUAL(keyed_rows(db.path), 1u); // "new" is still in the log only
  db.remove_files();
  // Schema 2: the log table inside the state file (entries a=1, then b=2
  // and a erased: table 1, key length, key, value length, value).
  CAF_REQUIRE(run_sql(db.path,
                      "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                      "CREATE TABLE journal (tbl INTEGER NOT NULL, key TEXT NOT NULL,"
                      " value BLOB NOT NULL, PRIMARY KEY (tbl, key)) WITHOUT ROWID;"
                      "CREATE TABLE log (seq INTEGER PRIMARY KEY, entries BLOB NOT NULL);"
                      "INSERT INTO meta VALUES ('application', 'registrar-core');"
                      "INSERT INTO meta VALUES ('schema_version', '2');"
                      "INSERT INTO meta VALUES ('record_format', '1');"
                      "INSERT INTO journal VALUES (1, 'old', X'6F6C64');"
                      "INSERT INTO log VALUES (1, X'0101610131');"
                      "INSERT INTO log VALUES (2, X'010162013201016100');"));
  {
    auto j = open_journal(db.path);
    std::map<std::string, std::string> want{{"b", "2"}, {"old", "old"}};
    CAF_CHECK_EQUAL(all_users(*j), want);
    CAF_CHECK_EQUAL(j->log_rows(), 0u);
  }
  CAF_CHECK_EQUAL(schema_of(db.path), "3");
  CAF_CHECK(!run_sql(db.path, "SELECT count(*) FROM log")); // the old log table is gone
  CAF_CHECK_EQUAL(keyed_rows(db.path), 2u);
  // A migrated row is found by its key's hash: changed, not doubled.
  {
    auto j = open_journal(db.path);
    CAF_REQUIRE(j->write({text_entry("old", "new")}, err));
    std::map<std::string, std::string> want{{"b", "2"}, {"old", "new"}};
    CAF_CHECK_EQUAL(all_users(*j), want);
  }
  CAF_CHECK_EQUAL(keyed_rows(db.path), 2u);
}

CAF_TEST(a log that is missing or belongs to another state file is an error) {
  temp_db db;
  temp_db other;
  std::string err;
  {
    auto j = open_journal(db.path);
    CAF_REQUIRE(j->write({text_entry("a", "1")}, err));
  }
  { open_journal(other.path); }
  auto log = actors::journal::log_path(db.path);
  auto other_log = actors::journal::log_path(other.path);
  // The log of another journal in its place.
  std::filesystem::copy_file(log, log + ".saved");
  std::filesystem::copy_file(other_log, log,
                             std::filesystem::copy_options::overwrite_existing);
  std::remove((log + "-wal").c_str());
  std::remove((log + "-shm").c_str());
  CAF_CHECK(actors::journal::open(db.path, durability::sync, err) == nullptr);
  CAF_MESSAGE("another log: " << err);
  CAF_CHECK_NOT_EQUAL(err.find("the log of another journal"), std::string::npos);
  CAF_CHECK_NOT_EQUAL(err.find(log), std::string::npos);
  // No log at all: its changes would be lost.
  std::remove(log.c_str());
  err.clear();
  CAF_CHECK(actors::journal::open(db.path, durability::sync, err) == nullptr);
  CAF_MESSAGE("missing log: " << err);
  CAF_CHECK_NOT_EQUAL(err.find("missing"), std::string::npos);
  CAF_CHECK_NOT_EQUAL(err.find(log), std::string::npos);
  CAF_CHECK(!std::filesystem::exists(log)); // not created by the failed open
  // The log back: "a" is there.
  std::filesystem::rename(log + ".saved", log);
  {
    auto j = open_journal(db.path);
    std::map<std::string, std::string> want{{"a", "1"}};
    CAF_CHECK_EQUAL(all_users(*j), want);
    CAF_REQUIRE(j->write({text_entry("b", "2")}, err));
  }
  // A log that holds changes beside a state file that is not its own.
  for (auto suffix : {"", "-wal", "-shm"})
    std::remove((db.path + suffix).c_str());
  err.clear();
  CAF_CHECK(actors::journal::open(db.path, durability::sync, err) == nullptr);
  CAF_MESSAGE("orphan log: " << err);
  CAF_CHECK_NOT_EQUAL(err.find("holds changes"), std::string::npos);
}

CAF_TEST(a user record survives the bytes of the journal) {
  user_record rec;
  rec.aor = alice;
  core::contact_info c;
  c.uri = "sip:alice@192.0.2.1";
  c.call_id = "x@y";
  c.cseq = 42;
  c.path = {"<sip:edge.example.com;lr>"};
  c.expires_at = core::time_point{} + 1000s;
  rec.bindings.push_back(c);
  rec.pubs.push_back(stored_publication{"etag-1", {}, core::time_point{} + 20s});
  stored_watcher w;
  w.sub.id = alice + ";sub=7";
  w.sub.version = 3;
  w.dialog.call_id = "d@z";
  w.dialog.route_set = {"<sip:p1;lr>", "<sip:p2;lr>"};
  rec.watchers.push_back(w);
  rec.etag_counter = 9;
  auto bytes = actors::to_bytes(rec);
  CAF_REQUIRE(!bytes.empty());
  user_record back;
  CAF_REQUIRE(actors::from_bytes(std::string_view{bytes.data(), bytes.size()}, back));
  CAF_CHECK_EQUAL(back.aor, alice);
  CAF_REQUIRE_EQUAL(back.bindings.size(), 1u);
  CAF_CHECK_EQUAL(back.bindings[0].path, c.path);
  CAF_CHECK_EQUAL(back.bindings[0].cseq, 42u);
  CAF_CHECK(back.bindings[0].expires_at == c.expires_at);
  CAF_REQUIRE_EQUAL(back.watchers.size(), 1u);
  CAF_CHECK_EQUAL(back.watchers[0].dialog.route_set, w.dialog.route_set);
  CAF_CHECK_EQUAL(back.watchers[0].sub.version, 3u);
  CAF_CHECK_EQUAL(back.etag_counter, 9u);
  // Truncated bytes are an error, not a half record.
  bytes.pop_back();
  CAF_CHECK(!actors::from_bytes(std::string_view{bytes.data(), bytes.size()}, back));
}

CAF_TEST(a file that is not our journal is an error naming it) {
  temp_db db;
  std::string err;
  {
    std::ofstream out{db.path};
    out << "these are not the bytes of a database, just text that is long enough "
           "to look like a header of a file and more text after it\n";
  }
  CAF_CHECK(actors::journal::open(db.path, durability::sync, err) == nullptr);
  CAF_MESSAGE("not a database: " << err);
  CAF_CHECK_NOT_EQUAL(err.find(db.path), std::string::npos);
  db.remove_files();
  // Somebody else's SQLite database.
  sqlite3* raw = nullptr;
  CAF_REQUIRE_EQUAL(sqlite3_open(db.path.c_str(), &raw), SQLITE_OK);
  sqlite3_exec(raw, "CREATE TABLE accounts (id INTEGER)", nullptr, nullptr, nullptr);
  sqlite3_close(raw);
  err.clear();
  CAF_CHECK(actors::journal::open(db.path, durability::sync, err) == nullptr);
  CAF_MESSAGE("foreign: " << err);
  CAF_CHECK_NOT_EQUAL(err.find("not a registrar-core journal"), std::string::npos);
  CAF_CHECK_NOT_EQUAL(err.find(db.path), std::string::npos);
  db.remove_files();
  // Ours, from a newer schema.
  { open_journal(db.path); }
  CAF_REQUIRE_EQUAL(sqlite3_open(db.path.c_str(), &raw), SQLITE_OK);
  sqlite3_exec(raw, "UPDATE meta SET value = '99' WHERE key = 'schema_version'", nullptr,
               nullptr, nullptr);
  sqlite3_close(raw);
  err.clear();
  CAF_CHECK(actors::journal::open(db.path, durability::sync, err) == nullptr);
  CAF_MESSAGE("newer: " << err);
  CAF_CHECK_NOT_EQUAL(err.find("schema version 99"), std::string::npos);
}

CAF_TEST_FIXTURE_SCOPE(persistence_tests, fixture)

// -- durability modes -----------------------------------------------------------------------

CAF_TEST(with durability sync the reply waits for the commit) {
  start(durability::sync);
  auto shard = eng.refs->shard_for(alice);
  auto rh = self->request(eng.service, caf::infinite,
                          reg_req(alice, "sip:alice@192.0.2.1", 600));
  expect((register_request), from(self).to(eng.service));
  expect((register_request), from(self).to(shard));
  // No reply yet: the shard flushes its journal rows to the store first.
  disallow((register_reply), from(shard).to(self));
  expect((flush_atom), from(shard).to(shard));
  expect((journal_batch), from(shard).to(eng.refs->store));
  expect((flush_atom), from(eng.refs->store).to(eng.refs->store));
  CAF_CHECK_EQUAL(rows(db.path, journal_table::users), 1u);
  // The commit's ok reaches the shard (behind whatever else it was sent),
  // which releases the reply.
  sched.run();
  bool replied = false;
  rh.receive([&](register_reply& r) { replied = r.bindings.size() == 1; },
             [&](caf::error& err) { CAF_FAIL(sys.render(err)); });
  CAF_CHECK(replied);
}

CAF_TEST(with durability async the reply does not wait) {
  start(durability::async);
  auto shard = eng.refs->shard_for(alice);
  self->request(eng.service, caf::infinite, reg_req(alice, "sip:alice@192.0.2.1", 600));
  expect((register_request), from(self).to(eng.service));
  expect((register_request), from(self).to(shard));
  expect((register_reply), from(shard).to(self));
  CAF_CHECK_EQUAL(rows(db.path, journal_table::users), 0u);
  sched.run();
  CAF_CHECK_EQUAL(rows(db.path, journal_table::users), 1u);
}

// -- restart --------------------------------------------------------------------------------

CAF_TEST(a restart keeps bindings publications watchers and policies) {
  start();
  CAF_REQUIRE(reg(alice, "sip:alice@192.0.2.1", 3600));
  CAF_REQUIRE(reg(alice, "sip:alice@192.0.2.2", 1800));
  CAF_REQUIRE(reg(bob, "sip:bob@192.0.2.3", 3600));
  presence_update_request up;
  up.aor = bob;
  up.status = core::extended_status::away;
  up.note = "back at 3";
  CAF_REQUIRE(call<presence_reply>(up));
  auto s = sub(carol, bob);
  CAF_REQUIRE(s);
  auto old_id = s->sub.id;
  core::presence_policy pol;
  pol.rules.push_back(core::policy_rule{mallory, core::policy_action::block});
  CAF_REQUIRE(call<caf::ok_atom>(set_policy_request{bob, pol}));
  pass(100s);
  stop();
  CAF_CHECK_EQUAL(rows(db.path, journal_table::users), 3u); // alice, bob, carol
  CAF_CHECK_EQUAL(rows(db.path, journal_table::policies), 1u);
  // The new process's steady clock reads 5000 s less for the same wall
  // clock moment: remaining expiry must not depend on it.
  sched.clock().current_time -= 5000s;
  wall_base += 5000s;
  pass(20s); // down for 20 s
  start();
  CAF_CHECK_EQUAL(eng.restored_users, 3u);
  auto l = call<register_reply>(lookup_request{alice});
  CAF_REQUIRE(l);
  CAF_REQUIRE_EQUAL(l->bindings.size(), 2u);
  CAF_CHECK_EQUAL(l->bindings[0].uri, "sip:alice@192.0.2.1");
  CAF_CHECK_EQUAL(l->bindings[0].expires, 3600u - 120u);
  CAF_CHECK_EQUAL(l->bindings[1].expires, 1800u - 120u);
  CAF_CHECK_EQUAL(l->bindings[0].call_id, "call-1@test");
  auto found = call<std::string>(find_user_request{"sip:alice@192.0.2.2"});
  CAF_REQUIRE(found);
  CAF_CHECK_EQUAL(*found, alice);
  auto p = call<presence_reply>(get_presence_request{bob});
  CAF_REQUIRE(p);
  CAF_CHECK_EQUAL(p->state.note, "back at 3");
  auto ws = call<watcher_list>(get_watchers_request{bob});
  CAF_REQUIRE(ws);
  bool has_carol = false;
  for (auto& w : ws->watchers)
    has_carol = has_carol || (w.watcher == carol && w.subscription_id == old_id);
  CAF_CHECK(has_carol);
  auto subs = call<subscription_list>(get_subscriptions_request{carol});
  CAF_REQUIRE(subs);
  CAF_REQUIRE_EQUAL(subs->subscriptions.size(), 1u);
  CAF_CHECK_EQUAL(subs->subscriptions[0].id, old_id);
  // The policy is back: mallory is still blocked.
  auto m = sub(mallory, bob);
  CAF_REQUIRE(!m);
  CAF_CHECK(is(m.error(), core::errc::forbidden));
  // New subscriptions do not reuse an id in use.
  auto s2 = sub(alice, bob);
  CAF_REQUIRE(s2);
  CAF_CHECK_NOT_EQUAL(s2->sub.id, old_id);
  CAF_CHECK_GREATER(actors::subscription_number(s2->sub.id),
                    actors::subscription_number(old_id));
  // A presence change reaches the restored watcher with the next version.
  up.note = "back now";
  CAF_REQUIRE(call<presence_reply>(up));
  auto notes = events_of<notify_required_event>();
  CAF_REQUIRE(!notes.empty());
  bool carol_notified = false;
  for (auto& t : notes.back().targets)
    if (t.subscription_id == old_id) {
      carol_notified = true;
      CAF_CHECK_GREATER(t.version, s->sub.version);
    }
  CAF_CHECK(carol_notified);
}

CAF_TEST(what expired while down is gone after a restart with its events once) {
  start();
  CAF_REQUIRE(reg(alice, "sip:alice@192.0.2.1", 60));
  CAF_REQUIRE(reg(bob, "sip:bob@192.0.2.3", 3600));
  stop();
  pass(120s); // down for two minutes: alice's binding expired meanwhile
  start();
  pass(2s);
  auto expired = events_of<registration_expired_event>();
  CAF_REQUIRE_EQUAL(expired.size(), 1u);
  CAF_CHECK_EQUAL(expired[0].user, alice);
  auto removed = events_of<contact_removed_event>();
  CAF_REQUIRE_EQUAL(removed.size(), 1u);
  CAF_CHECK(removed[0].cause == removal_cause::expired);
  auto l = call<register_reply>(lookup_request{alice});
  CAF_REQUIRE(!l);
  CAF_CHECK(is(l.error(), core::errc::user_not_found));
  CAF_CHECK(call<register_reply>(lookup_request{bob}));
  stop();
  CAF_CHECK_EQUAL(rows(db.path, journal_table::users), 1u);
  // And only once: a second restart has nothing left to expire.
  start();
  pass(2s);
  CAF_CHECK_EQUAL(events_of<registration_expired_event>().size(), 0u);
}

CAF_TEST(unregistering erases the row) {
  start();
  CAF_REQUIRE(reg(alice, "sip:alice@192.0.2.1", 600));
  CAF_REQUIRE(reg(alice, "sip:alice@192.0.2.1", 0));
  stop();
  CAF_CHECK_EQUAL(rows(db.path, journal_table::users), 0u);
}

CAF_TEST(bad input changes no row) {
  start();
  CAF_REQUIRE(reg(alice, "sip:alice@192.0.2.1", 600));
  stop();
  auto before = rows(db.path, journal_table::users);
  start();
  auto bad = reg(alice, "not a uri", 600);
  CAF_REQUIRE(!bad);
  auto brief = reg(bob, "sip:bob@192.0.2.1", 1);
  CAF_REQUIRE(!brief);
  CAF_CHECK(is(brief.error(), core::errc::interval_too_brief));
  stop();
  CAF_CHECK_EQUAL(rows(db.path, journal_table::users), before);
}

CAF_TEST_FIXTURE_SCOPE_END()
