#!/usr/bin/env bash
# bench/cpu.sh: instructions per forwarded line, counted by valgrind's callgrind (a count,
# not a time, so it repeats on a noisy machine), and system calls per line (strace -c).
#
# The release binary runs under valgrind as the logger of tools' shim-spawn (fds 3/4/5,
# cleared env; `--logger valgrind --tool=callgrind ... shim-logs --root DIR`), with
# `cat INPUT` as the container, INPUT being LINES loggen lines of 64 B or 512 B, for:
#   file    no config: the local file only;
#   redis   one PUBLISH endpoint on a throw-away redis-server, plus the local file.
# Ir/line = total Ir / lines; "net" subtracts an idle run of the same case (start-up,
# config, connect, shutdown; the container writes nothing). Syscalls come from a second
# run under `strace -f -c` (skipped if strace cannot trace here).
# Caveat: both tools slow the logger down (callgrind ~50x), which changes how many lines
# each read brings and so how many commands overflow the out-buffer into the spool;
# each Redis run's endpoint summary (spooled count) is printed with the table. The
# release binary is stripped: with an unstripped
# build (CARGO_PROFILE_RELEASE_STRIP=false CARGO_TARGET_DIR=/tmp/bench-target cargo
# build --release --target x86_64-unknown-linux-musl; SHIM_LOGS_BIN=<it> bench/cpu.sh)
# the top functions of each case are printed too.
#
# Usage: bench/cpu.sh [--quick]   (--quick: 2k lines instead of 20k)
# Needs: make build; valgrind, python3, redis-server, redis-cli; strace (optional).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

QUICK=0
for a in "$@"; do
  case $a in
    --quick) QUICK=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$a' (try --help)" ;;
  esac
done

need valgrind python3 redis-server redis-cli
need_built
VALGRIND=$(command -v valgrind)
STRACE=''
if command -v strace >/dev/null 2>&1 && strace -f -c -o /dev/null true >/dev/null 2>&1; then
  STRACE=$(command -v strace)
else
  note "strace missing or not permitted here: no syscall counts"
fi
SYMBOLS=0
if [ "$(nm "$BIN" 2>/dev/null | grep -c ' [tT] ' || true)" -gt 0 ]; then SYMBOLS=1; fi

if [ "$QUICK" = 1 ]; then LINES=2000; else LINES=20000; fi
SIZES=(64 512)

for s in "${SIZES[@]}"; do
  "$LOGGEN" --count "$LINES" --size "$s" >"$WORK/in-$s" || die "loggen failed"
done
: >"$WORK/empty"

start_redis
REDIS_CONFIG="[{\"type\":\"redis\",\"data\":{\"stdout\":\"redis://127.0.0.1:$REDIS_PORT/out\"}}]"

# spawn_logger NAME ROOT INPUT WRAPPER...: run shim-spawn with `WRAPPER... $BIN --root ROOT`
# as the logger and `cat INPUT` as the container; wait (bounded) and check its status.
spawn_logger() {
  local name=$1 root=$2 input=$3 pid rc=0
  shift 3
  "$SPAWN" --id bench --ns bench --logger "$@" "$BIN" --root "$root" -- cat "$input" \
    >"$WORK/$name.spawn" 2>&1 &
  pid=$!
  track "$pid"
  wait_gone 300 "$pid" || die "$name: still running after 300 s"
  wait "$pid" || rc=$?
  [ "$rc" = 0 ] || die "$name: shim-spawn exit status $rc: $(tail -n 3 "$WORK/$name.spawn")"
}

# measure CASE SIZE LINES INPUT: sets IR and SYSCALLS for one run of CASE (file|redis).
measure() {
  local case=$1 s=$2 lines=$3 input=$4 name="$1-$2-$3" root out
  root="$WORK/$name.root"
  [ "$case" = redis ] && write_config "$root" bench bench "$REDIS_CONFIG"
  out="$WORK/$name.cg"
  spawn_logger "$name" "$root" "$input" "$VALGRIND" --tool=callgrind --callgrind-out-file="$out"
  IR=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$out")
  [ -n "$IR" ] || IR=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$out")
  [ -n "$IR" ] || die "$name: no total in $out"
  # Delivery check: every line in the local file, and acknowledged by Redis.
  local got
  got=$(wc -l <"$root/logs/bench/bench.log" 2>/dev/null || echo 0)
  [ "$got" = "$lines" ] || die "$name: $got lines in the local file instead of $lines"
  if [ "$case" = redis ]; then
    summaries "$root/logs/bench/bench-sys.log" | grep " acked $lines " >/dev/null ||
      die "$name: not every line acknowledged: $(summaries "$root/logs/bench/bench-sys.log")"
    [ "$lines" -gt 0 ] && NOTES+=("redis $s B under callgrind, endpoint $(summaries "$root/logs/bench/bench-sys.log")")
  fi
  if [ "$SYMBOLS" = 1 ] && [ "$lines" -gt 0 ]; then
    callgrind_annotate "$out" 2>/dev/null | grep -E '^ *[0-9,]+ ' | grep -v 'PROGRAM TOTALS' |
      head -n 6 | sed -E "s/ \[[^]]*\]\$//; s/\?\?\?://; s#/[^ ]*/src_musl/##; s/^/  [$case $s B] /" \
      >>"$WORK/top.txt" || true
  fi
  rm -rf "$root"
  SYSCALLS=''
  if [ -n "$STRACE" ]; then
    [ "$case" = redis ] && write_config "$root" bench bench "$REDIS_CONFIG"
    spawn_logger "$name.st" "$root" "$input" "$STRACE" -f -c -o "$WORK/$name.strace"
    SYSCALLS=$(awk '$NF == "total" { print $(NF - 2) }' "$WORK/$name.strace")
    if [ "$lines" -gt 0 ]; then
      {
        printf '  [%s %s B] ' "$case" "$s"
        awk -v min=$((lines / 100)) '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" && $4 >= min {
          printf "%s %s  ", $NF, $4 }' "$WORK/$name.strace"
        echo
      } >>"$WORK/sys.txt"
    fi
    rm -rf "$root"
  fi
}

ROWS=()
NOTES=()
for case in file redis; do
  measure "$case" 0 0 "$WORK/empty"
  idle_ir=$IR idle_sc=${SYSCALLS:-}
  for s in "${SIZES[@]}"; do
    measure "$case" "$s" "$LINES" "$WORK/in-$s"
    ROWS+=("$case|$s|$IR|$idle_ir|${SYSCALLS:-}|$idle_sc")
  done
done

echo
echo "CPU, $(date -u +%Y-%m-%dT%H:%MZ), $(machine)"
echo "$LINES lines per run, container: cat INPUT; Ir = instructions executed in user space (callgrind)"
W=86
hr $W
printf '%-6s %6s %12s %10s %10s %10s %12s %12s\n' case line "total Ir" "Ir/line" "net Ir/l" \
  "idle Ir" "syscalls/l" "net sysc/l"
hr $W
for r in "${ROWS[@]}"; do
  IFS='|' read -r case s ir idle sc idle_sc <<<"$r"
  awk -v c="$case" -v s="$s" -v ir="$ir" -v idle="$idle" -v n="$LINES" -v sc="$sc" -v isc="$idle_sc" 'BEGIN {
    scl = (sc == "" ? "n/a" : sprintf("%.2f", sc / n)); nscl = (sc == "" ? "n/a" : sprintf("%.2f", (sc - isc) / n))
    printf "%-6s %6s %12d %10.0f %10.0f %10d %12s %12s\n", c, s " B", ir, ir / n, (ir - idle) / n, idle, scl, nscl }'
done
hr $W
if [ -s "$WORK/sys.txt" ]; then
  echo "system calls under strace (name: count, those at 1 per 100 lines or more):"
  cat "$WORK/sys.txt"
fi
for n in "${NOTES[@]}"; do echo "note: $n"; done
if [ -s "$WORK/top.txt" ]; then
  echo "top functions (Ir, callgrind_annotate):"
  cat "$WORK/top.txt"
elif [ "$SYMBOLS" = 0 ]; then
  echo "(stripped binary: no per-function breakdown; see the header for an unstripped build)"
fi
