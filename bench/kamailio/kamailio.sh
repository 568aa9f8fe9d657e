#!/usr/bin/env bash
# Start / stop a throw-away Kamailio 5.6 (Debian's packages) on 127.0.0.1 with
# the minimal registrar + presence configuration kept beside this script.
#
#   kamailio.sh start PORT WORKERS WORKDIR   start it, wait until it answers an
#                                            OPTIONS (10 s at most), print the
#                                            main PID on stdout
#   kamailio.sh stop WORKDIR                 stop everything `start` started
#   kamailio.sh cpu WORKDIR                  print utime+stime (clock ticks,
#                                            see `getconf CLK_TCK`) summed over
#                                            ALL Kamailio processes
#   kamailio.sh cpu_ns WORKDIR               the same in nanoseconds, from
#                                            /proc/<pid>/schedstat (run time)
#   kamailio.sh pids WORKDIR                 list all Kamailio PIDs
#   kamailio.sh install                      only install the packages
#
# CPU accounting: Kamailio forks its UDP/TCP workers, timers, etc. from the
# main process. `start` runs it with setsid in the foreground mode (-DD: the
# creator does not daemonize), so the main PID is also the process group id
# and session id of every process it forks; `cpu` sums fields 14+15 (utime,
# stime) of /proc/<pid>/stat over every PID whose process group (field 5) is
# the main PID. A worker that exited would be missing from that sum, but
# Kamailio's workers live as long as the main process.
#
# Environment: KAM_SHM_MB (shared memory, default 512), KAM_PKG_MB (private
# memory per process, default 16), KAM_DEBUG (log level, default from cfg),
# KAM_CFG (another configuration file, default kamailio.cfg beside this),
# KAM_MEM (memory manager for shm and pkg: tlsf (default), fm or qm, which is
# Kamailio's own default and ~4x slower on REGISTERs of new users),
# KAM_ARGS (extra kamailio options).
# Only 127.0.0.1 is used. No system service is touched: with systemd the
# package's own kamailio.service may start on 5060 on install; this script
# never uses it.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cfg="${KAM_CFG:-$here/kamailio.cfg}"
packages=(kamailio kamailio-presence-modules kamailio-sqlite-modules sqlite3)

die() { echo "kamailio.sh: $*" >&2; exit 1; }

usage() {
  sed -n '2,15p' "${BASH_SOURCE[0]}" >&2
  exit 64
}

# Debian's module directory (multiarch), found from the package itself.
module_dir() {
  local so
  so=$(dpkg -L kamailio 2>/dev/null | grep '/modules/tm\.so$' | head -1)
  [ -n "$so" ] && dirname "$so"
}

have_packages() {
  command -v kamailio > /dev/null || return 1
  command -v sqlite3 > /dev/null || return 1
  local m
  m=$(module_dir) || return 1
  [ -f "$m/presence.so" ] && [ -f "$m/presence_xml.so" ] && [ -f "$m/db_sqlite.so" ]
}

install_packages() {
  have_packages && return 0
  local apt=(apt-get install -y --no-install-recommends "${packages[@]}")
  local pre=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo > /dev/null && sudo -n true 2> /dev/null; then
      pre=(sudo -n)
    else
      echo "kamailio.sh: Kamailio is missing; as root run:" >&2
      echo "  apt-get update && DEBIAN_FRONTEND=noninteractive ${apt[*]}" >&2
      exit 2
    fi
  fi
  echo "kamailio.sh: installing ${packages[*]}" >&2
  "${pre[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq > /dev/null 2>&1 || true
  "${pre[@]}" env DEBIAN_FRONTEND=noninteractive "${apt[@]}" >&2 \
    || die "apt-get install failed"
  have_packages || die "packages installed but kamailio/modules not found"
}

# The sqlite schema directory shipped by kamailio-sqlite-modules.
schema_dir() {
  local f
  f=$(dpkg -L kamailio-sqlite-modules 2>/dev/null | grep '/standard-create\.sql$' | head -1)
  [ -n "$f" ] || f=$(ls /usr/share/kamailio/db_sqlite/standard-create.sql 2>/dev/null)
  [ -n "$f" ] && dirname "$f"
}

make_db() {
  local db=$1 dir
  dir=$(schema_dir) || die "standard-create.sql not found (kamailio-sqlite-modules)"
  rm -f "$db"
  # standard: the `version` table presence checks; presence: presentity,
  # active_watchers, watchers, xcap, pua.
  cat "$dir/standard-create.sql" "$dir/presence-create.sql" | sqlite3 "$db" \
    || die "could not create $db"
}

# Send one OPTIONS over UDP to 127.0.0.1:PORT, succeed on a 200 within 0.3 s.
options_ok() {
  perl -MIO::Socket::INET -e '
    my $port = shift;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", LocalAddr => "127.0.0.1",
                                  Proto => "udp") or exit 1;
    my $lp = $s->sockport; my $b = "z9hG4bK" . int(rand(1e9));
    my $m = "OPTIONS sip:127.0.0.1:$port SIP/2.0\r\n"
          . "Via: SIP/2.0/UDP 127.0.0.1:$lp;branch=$b;rport\r\n"
          . "Max-Forwards: 70\r\nFrom: <sip:probe\@localhost>;tag=$b\r\n"
          . "To: <sip:127.0.0.1:$port>\r\nCall-ID: $b\@127.0.0.1\r\n"
          . "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    $s->send($m) or exit 1;
    my $r = ""; my $rin = ""; vec($rin, fileno($s), 1) = 1;
    select(my $rout = $rin, undef, undef, 0.3) or exit 1;
    $s->recv($r, 65535); exit($r =~ m{^SIP/2\.0 200 } ? 0 : 1);' "$1"
}

main_pid() {
  local f=$1/kamailio.pid
  [ -s "$f" ] || return 1
  cat "$f"
}

# All PIDs of the process group led by the main PID.
group_pids() {
  local pgid=$1 st
  for st in /proc/[0-9]*/stat; do cat "$st" 2> /dev/null; echo; done \
    | awk -v g="$pgid" 'NF { n = split($0, a, ") "); split(a[n], f, " ");
        if (f[3] == g) print $1 }'
}

cpu_ticks() {
  local pgid=$1 st
  for st in /proc/[0-9]*/stat; do cat "$st" 2> /dev/null; echo; done \
    | awk -v g="$pgid" 'NF { n = split($0, a, ") "); split(a[n], f, " ");
        # after the comm field: f[1]=state f[2]=ppid f[3]=pgrp ... f[12]=utime f[13]=stime
        if (f[3] == g) t += f[12] + f[13] } END { print t + 0 }'
}

cmd_start() {
  [ $# -eq 3 ] || usage
  local port=$1 workers=$2 work=$3
  if ! [[ $port =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
    die "bad port $port"
  fi
  if ! [[ $workers =~ ^[0-9]+$ ]] || [ "$workers" -lt 1 ]; then
    die "bad worker count $workers"
  fi
  install_packages
  mkdir -p "$work" || die "cannot create $work"
  work=$(cd "$work" && pwd)
  if pid=$(main_pid "$work") && kill -0 "$pid" 2> /dev/null; then
    die "already running in $work (pid $pid)"
  fi
  local mpath
  mpath=$(module_dir) || die "kamailio modules not found"
  make_db "$work/kamailio.sqlite"
  mkdir -p "$work/run"
  # Memory manager for shm and pkg. Kamailio's default, qm (q_malloc, the
  # debugging allocator), spends ~30 % of the CPU in qm_malloc when new AORs
  # are inserted and costs ~4x the CPU per REGISTER; tlsf (or fm) is the
  # fast one. Default here: tlsf, the strongest baseline; KAM_MEM=qm for the
  # package default.
  local mem=${KAM_MEM:-tlsf}
  local args=(-f "$cfg" -DD -E -x "$mem" -X "$mem" -Y "$work/run" -w "$work" -P "$work/kamailio.pid.k"
    -m "${KAM_SHM_MB:-512}" -M "${KAM_PKG_MB:-16}"
    -A "KAM_PORT=$port" -A "KAM_WORKERS=$workers"
    -A "KAM_DB_URL=\"sqlite:///$work/kamailio.sqlite\""
    -A "KAM_MPATH=\"$mpath/\"")
  [ -n "${KAM_DEBUG:-}" ] && args+=(--debug="$KAM_DEBUG")
  # shellcheck disable=SC2206 # word splitting wanted: extra options
  [ -n "${KAM_ARGS:-}" ] && args+=($KAM_ARGS)
  # setsid: own session and process group (= main PID), so `cpu` and `stop`
  # find every process Kamailio forks and nothing else.
  setsid kamailio "${args[@]}" < /dev/null > "$work/kamailio.log" 2>&1 &
  local pid=$!
  echo "$pid" > "$work/kamailio.pid"
  local deadline=$((SECONDS + 10))
  while [ $SECONDS -lt $deadline ]; do
    if ! kill -0 "$pid" 2> /dev/null; then
      echo "kamailio.sh: kamailio exited at start-up; log:" >&2
      tail -30 "$work/kamailio.log" >&2
      rm -f "$work/kamailio.pid"
      exit 1
    fi
    if options_ok "$port"; then
      echo "$pid"
      return 0
    fi
    sleep 0.2
  done
  echo "kamailio.sh: no 200 to OPTIONS on 127.0.0.1:$port within 10 s; log:" >&2
  tail -30 "$work/kamailio.log" >&2
  cmd_stop "$work"
  exit 1
}

cmd_stop() {
  [ $# -eq 1 ] || usage
  local work=$1 pid
  pid=$(main_pid "$work") || { echo "kamailio.sh: nothing started in $work" >&2; return 0; }
  if kill -0 "$pid" 2> /dev/null; then
    # Our own process group only (the main PID leads it, see start).
    kill -TERM -- "-$pid" 2> /dev/null
    for _ in $(seq 1 50); do
      [ -z "$(group_pids "$pid")" ] && break
      sleep 0.1
    done
    if [ -n "$(group_pids "$pid")" ]; then
      kill -KILL -- "-$pid" 2> /dev/null
      sleep 0.2
    fi
  fi
  # reap if it is our child (same shell), ignore otherwise
  wait "$pid" 2> /dev/null
  rm -f "$work/kamailio.pid" "$work/kamailio.pid.k"
  return 0
}

cmd_cpu() {
  [ $# -eq 1 ] || usage
  local pid
  pid=$(main_pid "$1") || die "not running in $1"
  cpu_ticks "$pid"
}

cmd_cpu_ns() {
  [ $# -eq 1 ] || usage
  local pid p t=0 v
  pid=$(main_pid "$1") || die "not running in $1"
  for p in $(group_pids "$pid"); do
    read -r v _ < "/proc/$p/schedstat" 2> /dev/null && t=$((t + v))
  done
  echo "$t"
}

cmd_pids() {
  [ $# -eq 1 ] || usage
  local pid
  pid=$(main_pid "$1") || die "not running in $1"
  group_pids "$pid"
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  cpu) shift; cmd_cpu "$@" ;;
  cpu_ns) shift; cmd_cpu_ns "$@" ;;
  pids) shift; cmd_pids "$@" ;;
  install) install_packages ;;
  *) usage ;;
esac
