// SPDX-License-Identifier: MIT
#define CAF_SUITE actors.persistence
#include <caf/test/dsl.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include "actors/engine.hpp"
#include "core/crc32c.hpp"
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
    start_on(open_journal(db.path, mode), mode);
  }

  /// Starts an engine on journal `j`.
  void start_on(std::shared_ptr<actors::journal> j, durability mode) {
    auto e = actors::spawn_engine(sys, make_cfg(mode), std::move(j));
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

  /// Bob's presence (away, `note`), carol watching bob, bob's policy
  /// blocking mallory: a change of every kind but a binding. Returns
  /// carol's subscription.
  subscribe_reply presence_watcher_and_policy(const std::string& note) {
    CAF_REQUIRE(set_note(note));
    auto s = sub(carol, bob);
    CAF_REQUIRE(s);
    core::presence_policy pol;
    pol.rules.push_back(core::policy_rule{mallory, core::policy_action::block});
    CAF_REQUIRE(call<caf::ok_atom>(set_policy_request{bob, pol}));
    return *s;
  }

  caf::expected<presence_reply> set_note(const std::string& note) {
    presence_update_request up;
    up.aor = bob;
    up.status = core::extended_status::away;
    up.note = note;
    return call<presence_reply>(std::move(up));
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

/// A full disk under the journal's log: while it lives, every descriptor of
/// this process open on one of the log files points at /dev/full, so the
/// journal's writes fail as they would with ENOSPC (its own code paths, no
/// hook); the destructor puts the files back.
class full_disk {
public:
  explicit full_disk(const std::string& db_path) {
    namespace fs = std::filesystem;
    std::vector<fs::path> logs;
    for (auto& f : actors::journal::log_files(db_path))
      logs.push_back(fs::weakly_canonical(f));
    int full = ::open("/dev/full", O_RDWR | O_CLOEXEC);
    CAF_REQUIRE(full >= 0);
    std::vector<int> fds;
    for (auto& entry : fs::directory_iterator("/proc/self/fd")) {
      std::error_code ec;
      auto target = fs::read_symlink(entry.path(), ec);
      if (!ec && std::find(logs.begin(), logs.end(), target) != logs.end())
        fds.push_back(std::stoi(entry.path().filename().string()));
    }
    for (auto fd : fds) {
      saved_.emplace_back(fd, ::fcntl(fd, F_DUPFD_CLOEXEC, 0));
      CAF_REQUIRE(::dup2(full, fd) == fd);
    }
    ::close(full);
  }

  ~full_disk() {
    for (auto [fd, copy] : saved_) {
      ::dup2(copy, fd);
      ::close(copy);
    }
  }

  /// The log files' descriptors redirected (both files: 2).
  size_t redirected() const noexcept {
    return saved_.size();
  }

private:
  std::vector<std::pair<int, int>> saved_;
};

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

CAF_TEST(a commit appends one log record and the fold writes the keyed table) {
  temp_db db;
  auto j = open_journal(db.path, durability::async);
  j->set_min_fold(4);
  j->set_fold_slice(2);
  std::string err;
  CAF_REQUIRE(j->write({text_entry("a", "1"), text_entry("b", "2")}, err));
  CAF_REQUIRE(j->write({text_entry("c", "3"), text_entry("a", "4")}, err));
  CAF_CHECK_EQUAL(j->log_records(), 2u);
  CAF_CHECK_EQUAL(j->current_log(), 0);
  CAF_CHECK_EQUAL(keyed_rows(db.path), 0u);
  CAF_CHECK(j->fold_due()); // 4 entries appended
  CAF_REQUIRE(j->fold_step(err)); // starts the fold on the helper thread
  // Writes during the fold go to the other file and the next fold.
  CAF_CHECK_EQUAL(j->current_log(), 1);
  CAF_REQUIRE(j->write({text_entry("b", ""), text_entry("d", "5")}, err));
  CAF_REQUIRE(j->fold_step(err, true)); // a, b, c written (2 slices)
  CAF_CHECK_EQUAL(keyed_rows(db.path), 3u);
  CAF_CHECK_EQUAL(j->log_records(), 1u); // the one written during the fold
  CAF_CHECK_EQUAL(j->folds(), 1u);
  CAF_CHECK_EQUAL(j->last_fold_keys(), 3u);
  CAF_CHECK(!j->fold_due()); // 2 entries since the fold began
  auto seen = all_users(*j); // folds the rest
  CAF_CHECK_EQUAL(j->log_records(), 0u);
  CAF_CHECK_EQUAL(j->current_log(), 0); // back to the first file, from its start
  std::map<std::string, std::string> want{{"a", "4"}, {"c", "3"}, {"d", "5"}};
  CAF_CHECK_EQUAL(seen, want);
  CAF_CHECK_EQUAL(j->count(journal_table::users), 3u);
  CAF_CHECK_EQUAL(j->folds(), 2u);
  // Two more records, one in each file, neither folded: both replay.
  j->set_min_fold(1);
  CAF_REQUIRE(j->write({text_entry("e", "6")}, err));
  CAF_REQUIRE(j->fold_step(err, true)); // folds e; the commits go to file 1
  CAF_REQUIRE(j->write({text_entry("f", "7")}, err));
  CAF_CHECK_EQUAL(j->current_log(), 1);
  j.reset(); // the process is gone (the fold of e may stop before its slice)
  j = open_journal(db.path, durability::async);
  want["e"] = "6";
  want["f"] = "7";
  CAF_CHECK_EQUAL(all_users(*j), want);
  CAF_CHECK_EQUAL(j->log_records(), 0u);
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
  CAF_CHECK_EQUAL(j->log_records(), 0u);
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
    CAF_CHECK_EQUAL(j->log_records(), 4u);
    // The failed fold's file is not written over: the commits stay in the
    // other one, and the next fold covers both.
    CAF_REQUIRE(j->write({text_entry("k0", "after")}, err));
    want["k0"] = "after";
    j->stop_fold_after(1);
    CAF_REQUIRE(j->fold_step(err));
    CAF_CHECK(!j->fold_step(err, true));
    CAF_CHECK_EQUAL(j->current_log(), 1);
  }
  // Opening folds what the log still holds, newest value per key.
  auto j = open_journal(db.path, durability::sync);
  CAF_CHECK_EQUAL(j->log_records(), 0u);
  CAF_CHECK_EQUAL(keyed_rows(db.path), want.size());
  CAF_CHECK_EQUAL(all_users(*j), want);
}

namespace {

/// Bytes of a log record of one text entry (header + payload).
size_t record_size(const std::string& key, const std::string& value) {
  return 24 + 3 + key.size() + value.size();
}

/// Overwrites `n` bytes at `offset` of `file` with `bytes`.
void poke(const std::string& file, size_t offset, const std::string& bytes) {
  std::fstream f{file, std::ios::in | std::ios::out | std::ios::binary};
  CAF_REQUIRE(f.good());
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// Writes a record (valid checksum) of `payload` numbered `seq` at `offset`.
void put_record(const std::string& file, size_t offset, uint64_t seq,
                const std::string& payload) {
  std::string rec(24, '\0');
  uint32_t magic = 0x5245434Cu;
  auto len = static_cast<uint32_t>(payload.size());
  std::memcpy(&rec[0], &magic, 4);
  std::memcpy(&rec[4], &len, 4);
  std::memcpy(&rec[8], &seq, 8);
  auto crc = regcore::core::crc32c(0, rec.data() + 4, 12);
  crc = regcore::core::crc32c(crc, payload.data(), payload.size());
  std::memcpy(&rec[16], &crc, 4);
  poke(file, offset, rec + payload);
}

constexpr size_t first_record = 4096;

/// Records 1 to 3 in log file 0: a=1, b=1, c=1 (record_size("a", "1")
/// bytes each).
void write_abc(actors::journal& j) {
  std::string err;
  for (auto key : {"a", "b", "c"})
    CAF_REQUIRE(j.write({text_entry(key, "1")}, err));
}

/// write_abc, a fold (the commits go on in file 1), record 4 (`key` =
/// `value`) there, a fold (back to file 0): the next record goes over
/// record 1.
void write_abc_and_wrap(actors::journal& j, const std::string& key, const std::string& value) {
  std::string err;
  write_abc(j);
  CAF_CHECK_EQUAL(j.count(journal_table::users), 3u);
  CAF_CHECK_EQUAL(j.current_log(), 1);
  CAF_REQUIRE(j.write({text_entry(key, value)}, err));
  j.count(journal_table::users);
  CAF_REQUIRE_EQUAL(j.current_log(), 0);
}

} // namespace

CAF_TEST(a torn record ends the log and a file written over keeps no old record) {
  temp_db db;
  auto logs = actors::journal::log_files(db.path);
  std::string err;
  {
    auto j = open_journal(db.path);
    CAF_REQUIRE(j->write({text_entry("a", "1")}, err));
    CAF_REQUIRE(j->write({text_entry("a", "2")}, err));
  }
  // The second record torn (a crash in its write; its 2xx never left).
  poke(logs[0], first_record + record_size("a", "1") + 24, "X");
  {
    auto j = open_journal(db.path);
    std::map<std::string, std::string> want{{"a", "1"}};
    CAF_CHECK_EQUAL(all_users(*j), want);
    CAF_REQUIRE(j->write({text_entry("b", "1")}, err)); // number 2 again
  }
  {
    auto j = open_journal(db.path);
    std::map<std::string, std::string> want{{"a", "1"}, {"b", "1"}};
    CAF_CHECK_EQUAL(all_users(*j), want);
  }
  db.remove_files();
  // File 0: a=1, b=1, c=1 (folded); file 1: b=2 (folded); then file 0 again
  // from its start: a=2, the size of a=1, so that the old b=1 and c=1
  // follow it intact. They are not replayed.
  {
    auto j = open_journal(db.path);
    write_abc_and_wrap(*j, "b", "2");
    CAF_REQUIRE(j->write({text_entry("a", "2")}, err));
  }
  {
    auto j = open_journal(db.path);
    std::map<std::string, std::string> want{{"a", "2"}, {"b", "2"}, {"c", "1"}};
    CAF_CHECK_EQUAL(all_users(*j), want);
  }
  // A record missing in the middle (the newer file's first one corrupted,
  // its successor intact) is an error, not a silent gap.
  db.remove_files();
  {
    auto j = open_journal(db.path);
    CAF_REQUIRE(j->write({text_entry("a", "1")}, err));
    CAF_REQUIRE(j->write({text_entry("b", "1")}, err));
  }
  poke(logs[0], first_record + record_size("a", "1") + 24, "X");
  put_record(logs[1], first_record, 3, std::string{"\x01\x01" "c\x01" "1", 5});
  err.clear();
  CAF_CHECK(actors::journal::open(db.path, durability::sync, err) == nullptr);
  CAF_MESSAGE("gap: " << err);
  CAF_CHECK_NOT_EQUAL(err.find("records 2 to 2 are missing"), std::string::npos);
}

CAF_TEST(a corrupt record with newer ones after it stops a sync start and is dropped by async) {
  temp_db db;
  auto logs = actors::journal::log_files(db.path);
  std::string err;
  write_abc(*open_journal(db.path));
  // Record 2's payload damaged on the disk (a bad sector, a flipped bit);
  // records 1 and 3 intact. With sync, all three were acknowledged: ending
  // the log at record 2 would drop record 3 without a word.
  auto second = first_record + record_size("a", "1");
  poke(logs[0], second + 24, "X");
  CAF_CHECK(actors::journal::open(db.path, durability::sync, err) == nullptr);
  CAF_MESSAGE("sync: " << err);
  CAF_CHECK_NOT_EQUAL(err.find(logs[0]), std::string::npos);
  CAF_CHECK_NOT_EQUAL(err.find("offset " + std::to_string(second)), std::string::npos);
  CAF_CHECK_NOT_EQUAL(err.find("record 3"), std::string::npos);
  CAF_CHECK_NOT_EQUAL(err.find("--durability async"), std::string::npos);
  // async (a power loss can write a later page before an earlier one):
  // the start goes on without records 2 and 3, and says so.
  auto b = std::string(2 * record_size("a", "1") - record_size("b", ""), '2');
  {
    err.clear();
    auto j = actors::journal::open(db.path, durability::async, err);
    CAF_REQUIRE(j != nullptr);
    CAF_MESSAGE("async: " << j->open_warning());
    CAF_CHECK_NOT_EQUAL(j->open_warning().find(logs[0]), std::string::npos);
    CAF_CHECK_NOT_EQUAL(j->open_warning().find("record 3"), std::string::npos);
    std::map<std::string, std::string> want{{"a", "1"}};
    CAF_CHECK_EQUAL(all_users(*j), want);
    // "b" goes on as record 2 (in file 1: the fold at open moved the
    // commits there). The dropped record 3 is erased from file 0: left
    // there, newer than everything kept, it would stop the next start with
    // sync, or come back as the next record once file 0 is written again.
    CAF_REQUIRE(j->write({text_entry("b", b)}, err));
  }
  {
    auto j = open_journal(db.path);
    CAF_CHECK(j->open_warning().empty());
    std::map<std::string, std::string> want{{"a", "1"}, {"b", b}};
    CAF_CHECK_EQUAL(all_users(*j), want);
  }
  // Record 2 all zeros, record 3 intact: the same (zeros in the middle of
  // what sync wrote are damage too).
  db.remove_files();
  write_abc(*open_journal(db.path));
  poke(logs[0], second, std::string(record_size("b", "1"), '\0'));
  err.clear();
  CAF_CHECK(actors::journal::open(db.path, durability::sync, err) == nullptr);
  CAF_CHECK_NOT_EQUAL(err.find("record 3"), std::string::npos);
  // A file written over ends in the middle of a record of its earlier
  // round (the new record is longer): nothing newer follows, no error.
  db.remove_files();
  {
    auto j = open_journal(db.path);
    write_abc_and_wrap(*j, "b", "2");
    CAF_REQUIRE(j->write({text_entry("a", "22")}, err));
  }
  for (auto mode : {durability::sync, durability::async}) {
    err.clear();
    auto j = actors::journal::open(db.path, mode, err);
    CAF_REQUIRE(j != nullptr);
    CAF_CHECK(j->open_warning().empty());
    std::map<std::string, std::string> want{{"a", "22"}, {"b", "2"}, {"c", "1"}};
    CAF_CHECK_EQUAL(all_users(*j), want);
  }
  // A page that went back to what an earlier round wrote (a lost write):
  // file 0 again from its start (records 5 to 7), then record 6's place
  // holds the old record 2 again. Records stop at it (a lower number), but
  // record 7 follows: with sync, an error.
  db.remove_files();
  std::string old_second;
  {
    auto j = open_journal(db.path);
    write_abc_and_wrap(*j, "d", "1");
    std::ifstream in{logs[0], std::ios::binary};
    in.seekg(static_cast<std::streamoff>(second));
    old_second.resize(record_size("b", "1"));
    in.read(old_second.data(), static_cast<std::streamsize>(old_second.size()));
    CAF_REQUIRE(j->write({text_entry("a", "2")}, err)); // 5
    CAF_REQUIRE(j->write({text_entry("b", "2")}, err)); // 6
    CAF_REQUIRE(j->write({text_entry("c", "2")}, err)); // 7
  }
  poke(logs[0], second, old_second);
  err.clear();
  CAF_CHECK(actors::journal::open(db.path, durability::sync, err) == nullptr);
  CAF_MESSAGE("lost write: " << err);
  CAF_CHECK_NOT_EQUAL(err.find("record 7"), std::string::npos);
  // A torn last record (a crash in its write) has nothing newer after it:
  // no error, no warning.
  db.remove_files();
  {
    auto j = open_journal(db.path);
    CAF_REQUIRE(j->write({text_entry("a", "1")}, err));
    CAF_REQUIRE(j->write({text_entry("b", "1")}, err));
  }
  poke(logs[0], first_record + record_size("a", "1") + 24, "X");
  {
    auto j = open_journal(db.path);
    CAF_CHECK(j->open_warning().empty());
    std::map<std::string, std::string> want{{"a", "1"}};
    CAF_CHECK_EQUAL(all_users(*j), want);
  }
}

CAF_TEST(after a failed write the next fold does not switch log files) {
  temp_db db;
  std::string err;
  auto j = open_journal(db.path);
  CAF_REQUIRE(j->write({text_entry("a", "1")}, err));
  {
    full_disk disk{db.path};
    CAF_CHECK(!j->write({text_entry("b", "1")}, err));
    CAF_MESSAGE("failed: " << err);
  }
  // A fold now (count() folds everything) would move the commits to file
  // 1; after the failure they stay in file 0, over the failed record (a
  // failed fdatasync can leave it whole: in file 1 the retry would give two
  // records of that number).
  CAF_CHECK_EQUAL(j->count(journal_table::users), 1u);
  CAF_CHECK_EQUAL(j->current_log(), 0);
  CAF_REQUIRE(j->write({text_entry("c", "1")}, err));
  // Once a write succeeded, the next fold switches as usual.
  CAF_CHECK_EQUAL(j->count(journal_table::users), 2u);
  CAF_CHECK_EQUAL(j->current_log(), 1);
  j.reset();
  std::map<std::string, std::string> want{{"a", "1"}, {"c", "1"}};
  auto again = open_journal(db.path);
  CAF_CHECK_EQUAL(all_users(*again), want);
}

CAF_TEST(schema 1 2 and 3 journals are migrated and a malformed log record is an error) {
  temp_db db;
  auto logs = actors::journal::log_files(db.path);
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
    CAF_CHECK_EQUAL(j->log_records(), 1u);
  }
  CAF_CHECK_EQUAL(schema_of(db.path), "4");
  CAF_CHECK(std::filesystem::exists(logs[0]) && std::filesystem::exists(logs[1]));
  // A record whose bytes are cut short (its checksum right): a clear
  // error, the files untouched.
  put_record(logs[0], first_record + record_size("new", "x"), 2,
             std::string{"\x01\x05" "abc", 5});
  std::string err;
  CAF_CHECK(actors::journal::open(db.path, durability::sync, err) == nullptr);
  CAF_MESSAGE("malformed log: " << err);
  CAF_CHECK_NOT_EQUAL(err.find("corrupt journal"), std::string::npos);
  CAF_CHECK_NOT_EQUAL(err.find(logs[0]), std::string::npos);
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
    CAF_CHECK_EQUAL(j->log_records(), 0u);
  }
  CAF_CHECK_EQUAL(schema_of(db.path), "4");
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
  db.remove_files();
  // Schema 3: the log is a SQLite file of its own, paired by an id.
  auto old_log = actors::journal::schema3_log_path(db.path);
  CAF_REQUIRE(run_sql(db.path,
                      "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                      "CREATE TABLE journal (tbl INTEGER NOT NULL, h INTEGER NOT NULL,"
                      " key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (tbl, h, key))"
                      " WITHOUT ROWID;"
                      "INSERT INTO meta VALUES ('application', 'registrar-core');"
                      "INSERT INTO meta VALUES ('schema_version', '3');"
                      "INSERT INTO meta VALUES ('record_format', '1');"
                      "INSERT INTO meta VALUES ('log_id', '0123456789abcdef');"));
  // Without its log: an error naming it.
  err.clear();
  CAF_CHECK(actors::journal::open(db.path, durability::sync, err) == nullptr);
  CAF_MESSAGE("schema 3 without its log: " << err);
  CAF_CHECK_NOT_EQUAL(err.find(old_log + ": missing"), std::string::npos);
  CAF_REQUIRE(run_sql(old_log,
                      "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                      "CREATE TABLE log (seq INTEGER PRIMARY KEY, entries BLOB NOT NULL);"
                      "INSERT INTO meta VALUES ('application', 'registrar-core');"
                      "INSERT INTO meta VALUES ('schema_version', '3');"
                      "INSERT INTO meta VALUES ('log_id', '0123456789abcdef');"
                      "INSERT INTO log VALUES (5, X'0101610131');"
                      "INSERT INTO log VALUES (6, X'010162013201016100');"));
  {
    auto j = open_journal(db.path);
    std::map<std::string, std::string> want{{"b", "2"}};
    CAF_CHECK_EQUAL(all_users(*j), want);
    CAF_REQUIRE(j->write({text_entry("c", "3")}, err));
  }
  CAF_CHECK_EQUAL(schema_of(db.path), "4");
  CAF_CHECK(!std::filesystem::exists(old_log));
  {
    auto j = open_journal(db.path);
    std::map<std::string, std::string> want{{"b", "2"}, {"c", "3"}};
    CAF_CHECK_EQUAL(all_users(*j), want);
  }
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
  auto log = actors::journal::log_files(db.path)[0];
  auto other_log = actors::journal::log_files(other.path)[0];
  // The log of another journal in its place.
  std::filesystem::copy_file(log, log + ".saved");
  std::filesystem::copy_file(other_log, log,
                             std::filesystem::copy_options::overwrite_existing);
  CAF_CHECK(actors::journal::open(db.path, durability::sync, err) == nullptr);
  CAF_MESSAGE("another log: " << err);
  CAF_CHECK_NOT_EQUAL(err.find("the log of another journal"), std::string::npos);
  CAF_CHECK_NOT_EQUAL(err.find(log), std::string::npos);
  // Not a log at all.
  poke(log, 0, "garbage!");
  err.clear();
  CAF_CHECK(actors::journal::open(db.path, durability::sync, err) == nullptr);
  CAF_MESSAGE("not a log: " << err);
  CAF_CHECK_NOT_EQUAL(err.find(log + ": not a registrar-core journal log"), std::string::npos);
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

CAF_TEST(the store actor keeps every record kind in an in-memory SQLite journal) {
  // ":memory:": the state in a SQLite database in memory, no log files.
  auto j = open_journal(":memory:", durability::sync);
  start_on(j, durability::sync);
  CAF_REQUIRE(reg(alice, "sip:alice@192.0.2.1", 3600));
  auto s = presence_watcher_and_policy("in a meeting");
  stop();
  CAF_CHECK_EQUAL(j->count(journal_table::users), 3u); // alice, bob, carol
  CAF_CHECK_EQUAL(j->count(journal_table::policies), 1u);
  std::map<std::string, user_record> users;
  std::string err;
  bool decoded = true;
  CAF_REQUIRE(j->scan(journal_table::users,
                      [&](std::string_view key, std::string_view bytes) {
                        user_record x;
                        decoded = decoded && actors::from_bytes(bytes, x);
                        users.emplace(std::string{key}, std::move(x));
                      },
                      err));
  CAF_REQUIRE(decoded);
  CAF_REQUIRE_EQUAL(users.size(), 3u);
  // Each kind as it was acknowledged: a binding, a publication, a watcher
  // with its dialog, the watcher's side of the subscription, a policy.
  CAF_REQUIRE_EQUAL(users[alice].bindings.size(), 1u);
  CAF_CHECK_EQUAL(users[alice].bindings[0].uri, "sip:alice@192.0.2.1");
  CAF_CHECK_EQUAL(users[alice].bindings[0].call_id, "call-1@test");
  CAF_REQUIRE_EQUAL(users[bob].pubs.size(), 1u);
  CAF_CHECK_EQUAL(users[bob].pubs[0].device.note, "in a meeting");
  CAF_REQUIRE_EQUAL(users[bob].watchers.size(), 1u);
  CAF_CHECK_EQUAL(users[bob].watchers[0].sub.id, s.sub.id);
  CAF_CHECK_EQUAL(users[bob].watchers[0].dialog.call_id, "sub-call@test");
  CAF_REQUIRE_EQUAL(users[carol].watching.size(), 1u);
  CAF_CHECK_EQUAL(users[carol].watching[0].id, s.sub.id);
  size_t policies = 0;
  CAF_REQUIRE(j->scan(journal_table::policies,
                      [&](std::string_view key, std::string_view bytes) {
                        core::presence_policy p;
                        CAF_CHECK(actors::from_bytes(bytes, p));
                        CAF_CHECK_EQUAL(key, bob);
                        CAF_REQUIRE_EQUAL(p.rules.size(), 1u);
                        CAF_CHECK_EQUAL(p.rules[0].pattern, mallory);
                        ++policies;
                      },
                      err));
  CAF_CHECK_EQUAL(policies, 1u);
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

CAF_TEST(a failed commit answers every held request with an error and the next one works) {
  start(durability::sync);
  CAF_REQUIRE(reg(bob, "sip:bob@192.0.2.3", 3600));
  {
    full_disk disk{db.path};
    CAF_REQUIRE_EQUAL(disk.redirected(), 2u);
    auto r = reg(alice, "sip:alice@192.0.2.1", 3600);
    CAF_REQUIRE(!r);
    // A 500 over SIP (core/errc.cpp), with the file and the cause.
    CAF_CHECK(is(r.error(), core::errc::storage_failed));
    auto why = messages::from_caf_error(r.error()).reason;
    CAF_MESSAGE("failed commit: " << why);
    auto stem = std::filesystem::path{db.path}.stem().string();
    CAF_CHECK_NOT_EQUAL(why.find(stem + "-log."), std::string::npos);
    CAF_CHECK_NOT_EQUAL(why.find("No space left on device"), std::string::npos);
    // The change stays in memory (docs/ARCHITECTURE.md, "Durability").
    CAF_CHECK(call<register_reply>(lookup_request{alice}));
  }
  // The disk is back: the next commit goes where the failed one would have.
  CAF_REQUIRE(reg(carol, "sip:carol@192.0.2.4", 3600));
  stop();
  start();
  CAF_CHECK(call<register_reply>(lookup_request{bob}));
  CAF_CHECK(call<register_reply>(lookup_request{carol}));
  // Never acknowledged, never written: alice is not back.
  auto a = call<register_reply>(lookup_request{alice});
  CAF_REQUIRE(!a);
  CAF_CHECK(is(a.error(), core::errc::user_not_found));
}

// -- restart --------------------------------------------------------------------------------

CAF_TEST(a restart keeps bindings publications watchers and policies) {
  start();
  CAF_REQUIRE(reg(alice, "sip:alice@192.0.2.1", 3600));
  CAF_REQUIRE(reg(alice, "sip:alice@192.0.2.2", 1800));
  CAF_REQUIRE(reg(bob, "sip:bob@192.0.2.3", 3600));
  auto s = presence_watcher_and_policy("back at 3");
  auto old_id = s.sub.id;
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
  CAF_REQUIRE(set_note("back now"));
  auto notes = events_of<notify_required_event>();
  CAF_REQUIRE(!notes.empty());
  bool carol_notified = false;
  for (auto& t : notes.back().targets)
    if (t.subscription_id == old_id) {
      carol_notified = true;
      CAF_CHECK_GREATER(t.version, s.sub.version);
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

CAF_TEST(an unreadable user row stops the start naming it and stops every actor spawned) {
  // More users than one restore chunk per shard: chunks have gone to the
  // shards before the scan reaches the bad row (with the real scheduler they
  // are filing them; here they wait in the mailboxes).
  constexpr size_t n = 3 * 4096;
  // Rows hold wall-clock times.
  auto wall_now = make_cfg(durability::sync).wall_clock().time_since_epoch();
  auto in_an_hour = core::time_point{} + std::chrono::duration_cast<core::duration>(wall_now)
                    + 3600s;
  std::string last;
  {
    auto j = open_journal(db.path, durability::sync);
    std::vector<journal_entry> batch;
    for (size_t i = 0; i < n; ++i) {
      user_record row;
      row.aor = "sip:u" + std::to_string(i) + "@example.com";
      core::contact_info c;
      c.uri = "sip:u" + std::to_string(i) + "@192.0.2.1";
      c.call_id = "c" + std::to_string(i) + "@test";
      c.expires_at = in_an_hour;
      row.bindings.push_back(c);
      batch.push_back(journal_entry{journal_table::users, row.aor, actors::to_bytes(row)});
    }
    std::string err;
    CAF_REQUIRE(j->write(std::move(batch), err));
    // The last row the scan reads becomes unreadable.
    CAF_REQUIRE(j->scan(journal_table::users,
                        [&](std::string_view key, std::string_view) { last = key; }, err));
    CAF_REQUIRE(j->write({text_entry(last, "not a user record")}, err));
    CAF_MESSAGE("the bad row: " << last);
    auto running = sys.registry().running();
    auto e = actors::spawn_engine(sys, make_cfg(durability::sync), j);
    CAF_REQUIRE(!e);
    auto text = sys.render(e.error());
    CAF_CHECK(text.find(db.path) != std::string::npos);
    CAF_CHECK(text.find("unreadable user row '" + last + "'") != std::string::npos);
    sched.run();
    CAF_MESSAGE("running " << running << " -> " << sys.registry().running());
    CAF_CHECK_EQUAL(sys.registry().running(), running);
    // Nothing was written: the rows are as they were.
    CAF_CHECK_EQUAL(j->count(journal_table::users), n);
    // With the row mended, the same journal starts with every user.
    user_record fixed;
    fixed.aor = last;
    CAF_REQUIRE(j->write({journal_entry{journal_table::users, last, actors::to_bytes(fixed)}},
                         err));
  }
  start();
  CAF_CHECK_EQUAL(eng.restored_users, n);
  auto probe = last == "sip:u7@example.com" ? 8 : 7;
  auto l = call<register_reply>(
    lookup_request{"sip:u" + std::to_string(probe) + "@example.com"});
  CAF_REQUIRE(l);
  CAF_REQUIRE_EQUAL(l->bindings.size(), 1u);
  CAF_CHECK_EQUAL(l->bindings[0].uri, "sip:u" + std::to_string(probe) + "@192.0.2.1");
  CAF_CHECK_EQUAL(l->bindings[0].expires, 3600u);
}

CAF_TEST_FIXTURE_SCOPE_END()
