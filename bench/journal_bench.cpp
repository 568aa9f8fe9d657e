// SPDX-License-Identifier: MIT
// The cost of one durable commit of the journal's log: the journal's own
// write() with durability sync (a record over zeroed blocks, pwrite +
// fdatasync), against the two designs it replaced: a SQLite log table (WAL,
// synchronous FULL; schema 3) and a plain file appended to. Arg = entries
// per commit (~250 B each: a user's row). Wall time per commit is the
// latency a waiting REGISTER sees; CPU time is what the store thread pays
// (kernel time included). The files go to $REGCORE_BENCH_DIR (default: the
// working directory, which should be on the disk under test, not a tmpfs).
// Figures and commands: docs/performance.md, "Schema 4".
#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "actors/journal.hpp"

using namespace regcore;

namespace {

std::string bench_file(const char* name) {
  auto dir = std::getenv("REGCORE_BENCH_DIR");
  return (std::filesystem::path{dir ? dir : "."} / name).string();
}

void remove_journal(const std::string& path) {
  for (auto& f : actors::journal::log_files(path))
    std::remove(f.c_str());
  for (auto suffix : {"", "-wal", "-shm"})
    std::remove((path + suffix).c_str());
}

/// The row of user `id`: 250 bytes of `fill`.
journal_entry user_row(size_t id, char fill) {
  journal_entry e;
  e.table = journal_table::users;
  e.key = "sip:user" + std::to_string(id) + "@example.com";
  e.value.assign(250, fill);
  return e;
}

std::vector<journal_entry> make_entries(size_t n, size_t round) {
  std::vector<journal_entry> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(user_row(round * n + i, static_cast<char>('a' + i % 26)));
  return out;
}

/// The bytes of one commit of `n` entries (as the SQLite and append
/// variants write them: the same size as the journal's record).
std::vector<char> make_blob(size_t n) {
  return std::vector<char>(n * 285, 'x');
}

} // namespace

static void BM_journal_log_commit(benchmark::State& state) {
  auto path = bench_file("regcore-bench-journal.db");
  remove_journal(path);
  std::string err;
  auto j = actors::journal::open(path, durability::sync, err);
  if (!j) {
    state.SkipWithError(err.c_str());
    return;
  }
  j->set_min_fold(size_t{1} << 40); // the commit alone, no fold
  auto n = static_cast<size_t>(state.range(0));
  size_t round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto entries = make_entries(n, round++);
    state.ResumeTiming();
    if (!j->write(std::move(entries), err)) {
      state.SkipWithError(err.c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
  j.reset();
  remove_journal(path);
}
BENCHMARK(BM_journal_log_commit)->Arg(8)->Arg(40)->Unit(benchmark::kMicrosecond);

static void BM_sqlite_log_commit(benchmark::State& state) {
  auto path = bench_file("regcore-bench-sqlite-log.db");
  remove_journal(path);
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db,
               "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
               "CREATE TABLE log (seq INTEGER PRIMARY KEY, entries BLOB NOT NULL);",
               nullptr, nullptr, nullptr);
  sqlite3_stmt* append = nullptr;
  sqlite3_stmt* trim = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO log VALUES (?1, ?2)", -1, &append, nullptr);
  sqlite3_prepare_v2(db, "DELETE FROM log WHERE seq <= ?1", -1, &trim, nullptr);
  auto blob = make_blob(static_cast<size_t>(state.range(0)));
  int64_t seq = 0;
  for (auto _ : state) {
    ++seq;
    sqlite3_bind_int64(append, 1, seq);
    sqlite3_bind_blob(append, 2, blob.data(), static_cast<int>(blob.size()), SQLITE_STATIC);
    sqlite3_step(append);
    sqlite3_reset(append);
    // As schema 3 did: the folded rows deleted (here: all but the last 2,000).
    if (seq % 64 == 0 && seq > 2000) {
      sqlite3_bind_int64(trim, 1, seq - 2000);
      sqlite3_step(trim);
      sqlite3_reset(trim);
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  sqlite3_finalize(append);
  sqlite3_finalize(trim);
  sqlite3_close(db);
  remove_journal(path);
}
BENCHMARK(BM_sqlite_log_commit)->Arg(8)->Arg(40)->Unit(benchmark::kMicrosecond);

static void BM_append_file_commit(benchmark::State& state) {
  auto path = bench_file("regcore-bench-append.log");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  auto blob = make_blob(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    if (::write(fd, blob.data(), blob.size()) < 0 || ::fdatasync(fd) != 0) {
      state.SkipWithError("write failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  ::close(fd);
  std::remove(path.c_str());
}
BENCHMARK(BM_append_file_commit)->Arg(8)->Arg(40)->Unit(benchmark::kMicrosecond);

// A fold: Arg(0) new keys into an empty table, or Arg(0) changes of stored
// keys of a table of Arg(1) rows (in a fixed shuffled order), in one
// transaction (as at open). Wall time per fold; items = keys.
static void BM_journal_fold(benchmark::State& state) {
  auto path = bench_file("regcore-bench-fold.db");
  auto keys = static_cast<size_t>(state.range(0));
  auto rows = static_cast<size_t>(state.range(1));
  std::string err;
  std::vector<size_t> order(std::max(keys, rows));
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i * 2654435761u % order.size(); // a fixed shuffle (coprime step)
  for (auto _ : state) {
    state.PauseTiming();
    remove_journal(path);
    auto j = actors::journal::open(path, durability::async, err);
    j->set_min_fold(size_t{1} << 40);
    auto write_keys = [&](size_t n, char c) {
      std::vector<journal_entry> batch;
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(user_row(order[i % order.size()], c));
        if (batch.size() == 256 || i + 1 == n) {
          j->write(std::move(batch), err);
          batch.clear();
        }
      }
    };
    if (rows > 0) {
      write_keys(rows, 'a');
      j->fold_all(err);
    }
    write_keys(keys, 'b');
    state.ResumeTiming();
    if (!j->fold_all(err))
      state.SkipWithError(err.c_str());
    state.PauseTiming();
    j.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(keys));
  remove_journal(path);
}
BENCHMARK(BM_journal_fold)
  ->Args({65536, 0})
  ->Args({65536, 100000})
  ->Iterations(5)
  ->UseRealTime() // the fold runs on the journal's helper thread
  ->Unit(benchmark::kMillisecond);
