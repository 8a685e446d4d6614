#!/usr/bin/env bash
# bench/throughput.sh: lines/s and MB/s from the container's pipe, against the limits
# measured in the same run, for lines of 64 B, 512 B and 8 KiB.
#
#   local file   the logger (started like containerd starts it; config: the local file
#                only, raw, rotation off, so that like cat's it is one file that can be
#                checked) against `cat` copying the same pipe into a file. From the
#                start of the writer (`cat INPUT` into the pipe) to the reader's exit
#                at end of file, the output then being complete (checked with
#                `loggen verify` for the logger).
#   Redis        one PUBLISH endpoint (default options; local file as above) with
#                bench/sub.py subscribed, checking every line (format, per-stream
#                sequence, no loss, no duplicate); from the start of the writer to the
#                last line at the subscriber. The limit is `redis-benchmark -c 1 -P 64 PUBLISH` on the
#                same server with a counting subscriber attached: Redis's own rate on
#                one connection. The volume stays under the default 64 MiB spool bound
#                (the logger reads the pipe faster than Redis takes commands; beyond
#                the bound it would drop lines by design).
# Inputs are loggen files generated first (in a temporary directory) and fed by `cat`,
# so the generator is not what is measured. Each figure is the median of REPS runs.
# MB are 10^6 bytes. Ratio = logger / limit. Nothing is asserted: the machine is noisy.
#
# Usage: bench/throughput.sh [--quick]   (--quick: small inputs, one run each)
# Needs: make build; python3, redis-server, redis-cli, redis-benchmark.
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

need python3 redis-server redis-cli redis-benchmark cat
need_built

SIZES=(64 512 8192)
if [ "$QUICK" = 1 ]; then
  FILE_BYTES=$((8 << 20)) REDIS_BYTES=$((1 << 20)) REPS=1
else
  FILE_BYTES=$((256 << 20)) REDIS_BYTES=$((32 << 20)) REPS=5
fi
PB=(python3 "$REPO/bench/pipebench.py")

# Inputs: the first lines of one loggen file per size serve both cases.
for s in "${SIZES[@]}"; do
  "$LOGGEN" --count $((FILE_BYTES / s)) --size "$s" >"$WORK/in-$s" || die "loggen failed"
  head -c $(((REDIS_BYTES / s) * s)) "$WORK/in-$s" >"$WORK/redis-in-$s"
done
# The inputs are ~800 MiB of dirty page cache: have it written back now, not
# during the first timed runs (it slowed whichever ran first by half).
sync

start_redis
RESULTS=()
NOTES=()

# field KEY LINE: the value of KEY=... in a pipebench line.
field() {
  sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2" | head -n 1
}

# run_pb ARGS...: one pipebench run in the background (tracked, so an interrupt stops
# it); its result line is left in PB_LINE. Status 1 if the run failed.
run_pb() {
  local pid rc=0
  "${PB[@]}" "$@" >"$WORK/pb.out" 2>"$WORK/pb.err" &
  pid=$!
  track "$pid"
  wait "$pid" || rc=$?
  PB_LINE=$(tail -n 1 "$WORK/pb.out")
  if [ "$rc" != 0 ]; then
    note "pipebench $1 failed ($rc): $(tail -n 3 "$WORK/pb.err") $PB_LINE"
    return 1
  fi
}

for s in "${SIZES[@]}"; do
  lines=$((FILE_BYTES / s))
  bytes=$((lines * s))
  cat_t=() log_t=()
  for ((r = 1; r <= REPS; r++)); do
    rm -f "$WORK/cat.out"
    run_pb cat --input "$WORK/in-$s" --out "$WORK/cat.out" || die "cat run failed"
    cat_t+=("$(field secs "$PB_LINE")")
    rm -f "$WORK/cat.out"
    root="$WORK/file-$s-$r"
    write_config "$root" bench bench '[{"type":"file","data":{"max-size":0}}]'
    run_pb logger-file --input "$WORK/in-$s" --logger "$BIN" --root "$root" ||
      die "logger run failed (size $s)"
    log_t+=("$(field secs "$PB_LINE")")
    if [ "$r" = 1 ]; then
      v=$("$LOGGEN" verify --size "$s" --count "$lines" "$root/logs/bench/bench.log" 2>&1 | tail -n 1) ||
        NOTES+=("local file, $s B: verify failed: $v")
      check=$(sed -n 's/.*gaps \([0-9]*\), dups \([0-9]*\), corrupt \([0-9]*\).*/gaps \1 dups \2 corrupt \3/p' <<<"$v")
    fi
    rm -rf "$root"
  done
  RESULTS+=("file|$s|$lines|$bytes|$(median "${log_t[@]}")|$(median "${cat_t[@]}")|cat|${check:-?}")
done

for s in "${SIZES[@]}"; do
  lines=$((REDIS_BYTES / s))
  bytes=$((lines * s))
  log_t=() rb_rps=() rb_t=()
  check=ok
  for ((r = 1; r <= REPS; r++)); do
    root="$WORK/redis-$s-$r"
    write_config "$root" bench bench "[{\"type\":\"redis\",\"data\":{\"stdout\":\"redis://127.0.0.1:$REDIS_PORT/out\"}},{\"type\":\"file\",\"data\":{\"max-size\":0}}]"
    run_pb logger-redis --input "$WORK/redis-in-$s" --logger "$BIN" --root "$root" \
      --port "$REDIS_PORT" --channel out --lines "$lines" --size "$s" --idle 20 || {
      check="FAILED: $(sed -n 's/.*sub=\[\([^ ]*\) \(lines=[0-9]*\) \(gaps=[0-9]*\) \(dups=[0-9]*\) \(corrupt=[0-9]*\) \(markers=[0-9]*\).*/\1 \2 \3 \4 \5 \6/p' <<<"$PB_LINE")"
      NOTES+=("redis, $s B, run $r: $PB_LINE")
    }
    log_t+=("$(field secs "$PB_LINE")")
    sum=$(summaries "$root/logs/bench/bench-sys.log" | head -n 1)
    [ "$r" = 1 ] && NOTES+=("redis, $s B: endpoint $sum")
    rm -rf "$root"
    run_pb redis-benchmark --port "$REDIS_PORT" --channel out --lines "$lines" --size "$s" --idle 20 ||
      die "redis-benchmark run failed (size $s)"
    rb_rps+=("$(field rps "$PB_LINE")")
    rb_t+=("$(field secs "$PB_LINE")")
  done
  rps=$(median "${rb_rps[@]}")
  # The limit as a time for these lines, from redis-benchmark's own rate.
  rb_secs=$(awk -v n="$lines" -v r="$rps" 'BEGIN { printf "%.6f", (r > 0 ? n / r : 0) }')
  RESULTS+=("redis|$s|$lines|$bytes|$(median "${log_t[@]}")|$rb_secs|redis-benchmark|$check")
  NOTES+=("redis, $s B: redis-benchmark $rps req/s; its lines reached the counting subscriber in $(median "${rb_t[@]}") s")
done

echo
echo "Throughput, $(date -u +%Y-%m-%dT%H:%MZ), $(machine)"
echo "median of $REPS run(s); MB = 10^6 B; limit: cat (pipe to file), redis-benchmark -c 1 -P 64 PUBLISH"
W=104
hr $W
printf '%-6s %6s %9s %10s %8s %10s %8s %6s  %s\n' path line lines "lines/s" "MB/s" \
  "limit l/s" "lim MB/s" ratio check
hr $W
for r in "${RESULTS[@]}"; do
  IFS='|' read -r path s lines bytes t lt _ check <<<"$r"
  awk -v p="$path" -v s="$s" -v n="$lines" -v b="$bytes" -v t="$t" -v lt="$lt" -v c="$check" 'BEGIN {
    ls = (t > 0 ? n / t : 0); mb = (t > 0 ? b / t / 1e6 : 0)
    lls = (lt > 0 ? n / lt : 0); lmb = (lt > 0 ? b / lt / 1e6 : 0)
    printf "%-6s %6s %9d %10.0f %8.1f %10.0f %8.1f %6.2f  %s\n", p, s " B", n, ls, mb, lls, lmb,
      (lls > 0 ? ls / lls : 0), c }'
done
hr $W
for n in "${NOTES[@]}"; do echo "note: $n"; done
