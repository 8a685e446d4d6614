# shellcheck shell=bash
# bench/lib.sh: helpers shared by the bench scripts (sourced by them, not run).
#
# Gives: REPO, BIN (the release binary, or $SHIM_LOGS_BIN), SPAWN, LOGGEN, WORK (a
# temporary directory removed at exit unless KEEP=1), die, need, need_built, track
# (remember a PID to clean up), free_port, start_redis, write_config, find_child,
# wait_gone, median, and a trap that stops every tracked process, and every process
# below it, by PID on exit, Ctrl-C or SIGTERM.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRIPT=$(basename "$0")
BIN=${SHIM_LOGS_BIN:-$REPO/target/x86_64-unknown-linux-musl/release/shim-logs}
SPAWN=$REPO/tools/target/release/shim-spawn
LOGGEN=$REPO/tools/target/release/loggen

die() {
  echo "$SCRIPT: error: $*" >&2
  exit 1
}

note() {
  echo "$SCRIPT: $*" >&2
}

# need TOOL...: fail clearly when a command is missing.
need() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || die "'$t' is not installed (Debian: $(pkg_hint "$t"))"
  done
}

pkg_hint() {
  case $1 in
    redis-server) echo "apt-get install redis-server" ;;
    redis-cli | redis-benchmark) echo "apt-get install redis-tools" ;;
    valgrind) echo "apt-get install valgrind" ;;
    gcc | cc) echo "apt-get install gcc libc6-dev" ;;
    python3) echo "apt-get install python3" ;;
    strace) echo "apt-get install strace" ;;
    *) echo "install $1" ;;
  esac
}

# need_built: the release binary and the tools must exist (make build makes them).
need_built() {
  [ -x "$BIN" ] || die "no release binary at $BIN (run 'make build', or set SHIM_LOGS_BIN)"
  if [ ! -x "$SPAWN" ] || [ ! -x "$LOGGEN" ]; then
    die "no tools in $REPO/tools/target/release (run 'make build')"
  fi
}

# The commit the binary was presumably built from (for the tables).
revision() {
  git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown
}

PIDS=()
track() {
  PIDS+=("$1")
}

# descendants PID: every process below PID, children first listed after their own.
descendants() {
  local c
  # shellcheck disable=SC2013 # PIDs, space-separated
  for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
    echo "$c"
    descendants "$c"
  done
}

# wait_gone SECS PID...: wait (bounded) until none of the PIDs exists; 1 if some do.
wait_gone() {
  local secs=$1 i p left
  shift
  for ((i = 0; i < secs * 20; i++)); do
    left=0
    for p in "$@"; do
      if alive "$p"; then left=1; fi
    done
    [ "$left" = 0 ] && return 0
    sleep 0.05
  done
  return 1
}

cleanup() {
  local rc=$? all=() p
  trap - EXIT INT TERM
  for p in "${PIDS[@]}"; do
    if kill -0 "$p" 2>/dev/null; then
      all+=("$p")
      mapfile -t -O "${#all[@]}" all < <(descendants "$p")
    fi
  done
  if [ "${#all[@]}" -gt 0 ]; then
    kill -TERM "${all[@]}" 2>/dev/null || true
    wait_gone 3 "${all[@]}" || kill -KILL "${all[@]}" 2>/dev/null || true
    wait "${PIDS[@]}" 2>/dev/null || true
  fi
  if [ -n "${WORK:-}" ] && [ -d "$WORK" ]; then
    if [ "${KEEP:-0}" = 1 ]; then note "kept $WORK"; else rm -rf "$WORK"; fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

WORK=$(mktemp -d "${TMPDIR:-/tmp}/shim-bench.XXXXXX")

# free_port: a loopback TCP port nothing listens on (bound, then released).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_redis: a throw-away redis-server on a free loopback port; sets REDIS_PORT, REDIS_PID.
# No persistence; no output-buffer limit for subscribers (a checking subscriber may lag
# a fast publisher, and must not be disconnected for it).
start_redis() {
  local i
  REDIS_PORT=$(free_port)
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --client-output-buffer-limit "pubsub 0 0 0" --dir "$WORK" \
    --logfile "$WORK/redis-$REDIS_PORT.log" --daemonize no >/dev/null 2>&1 &
  REDIS_PID=$!
  track "$REDIS_PID"
  for ((i = 0; i < 100; i++)); do
    if [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; then
      return 0
    fi
    kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server exited at start (see $WORK/redis-$REDIS_PORT.log)"
    sleep 0.05
  done
  die "redis-server on port $REDIS_PORT did not answer PING within 5 s"
}

# write_config ROOT NS ID JSON: the logger's config for container NS/ID.
write_config() {
  mkdir -p "$1/config/$2"
  printf '%s\n' "$4" >"$1/config/$2/$3-logs.json"
}

# find_child PARENT EXE [NOT]: wait (bounded, 5 s) for a child of PARENT running EXE
# (or, with EXE "-", any child other than NOT) and print its PID.
find_child() {
  local parent=$1 exe=$2 not=${3:-} i c want
  if [ "$exe" = - ]; then want=-; else want=$(readlink -f "$exe"); fi
  for ((i = 0; i < 500; i++)); do
    # shellcheck disable=SC2013 # PIDs, space-separated
    for c in $(cat /proc/"$parent"/task/*/children 2>/dev/null); do
      [ "$c" = "$not" ] && continue
      if [ "$want" = - ] || [ "$(readlink -f /proc/"$c"/exe 2>/dev/null)" = "$want" ]; then
        echo "$c"
        return 0
      fi
    done
    kill -0 "$parent" 2>/dev/null || return 1
    sleep 0.01
  done
  return 1
}

# median NUMBER...: the median (mean of the middle two for an even count).
median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "nan"; exit }
    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# machine: the line under each table's title.
machine() {
  echo "$(nproc) cores, Linux $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg), shim-logs $(revision)"
}

# hr: a rule for the tables.
hr() {
  printf '%*s\n' "${1:-78}" '' | tr ' ' -
}

# alive PID: the process exists and is not a zombie.
alive() {
  [ -e /proc/"$1" ] && ! grep -q '^State:[[:space:]]*Z' /proc/"$1"/status 2>/dev/null
}

# summaries SYSLOG: the logger's per-endpoint exit lines, shortened.
summaries() {
  grep -o 'redis redis://[^ ]*: [a-z]* [0-9]* .*acked .*' "$1" 2>/dev/null |
    sed -E 's#redis redis://[^/]*/([^:?]*)[^:]*: #\1: #; s/ errors 0 reconnects 0//' || true
}
