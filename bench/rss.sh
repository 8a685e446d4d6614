#!/usr/bin/env bash
# bench/rss.sh: memory of the release binary against a floor program, and its size.
#
# Runs the logger the way containerd does (tools' shim-spawn: fds 3/4/5, cleared env)
# with two Redis endpoints (stdout and stderr on two channels of a throw-away
# redis-server) and the local file (raw, rotation off so it can be checked whole
# afterwards), and reads VmRSS, VmHWM, RssAnon and RssFile
# (/proc/PID/status), Pss and Private_Dirty (/proc/PID/smaps_rollup), in kB:
#   at rest     after ready, both endpoints connected, no output;
#   full load   loggen writing LINES lines of 512 B, half on each stream, as fast as
#               it can; sampled every 20 ms while the container runs, the values kept
#               are the last sample (the end of the load); VmHWM is the peak.
#   formats     the same load with the formats on: the local file in `cri`, both
#               endpoints with `format=json` (shim-logs only).
# The same for the floor, bench/floor.c: a libc-free static program that only writes
# the ready byte and polls/reads fds 3 and 4 into a 4 KiB buffer. Then the ratios,
# and the size of the static binary.
# Each measurement is repeated RUNS times (default 5) and the table gives the median:
# where the stack lands in its page (address-space randomisation) moves a process's
# figures by a page or two from run to run; the spread of VmHWM is printed too.
#
# Usage: bench/rss.sh [--quick]    (--quick: 20k lines, 1 s at rest, one run; a smoke run)
# Needs: make build; gcc (static link), python3, redis-server, redis-cli.
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

need python3 redis-server redis-cli gcc
need_built

if [ "$QUICK" = 1 ]; then LINES=20000 REST=1 RUNS=1; else LINES=200000 REST=3 RUNS=${RUNS:-5}; fi
SIZE=512

# The floor: no libc, so nothing but the polling is measured.
gcc -static -nostdlib -ffreestanding -fno-stack-protector -fno-asynchronous-unwind-tables \
  -Os -o "$WORK/floor" "$REPO/bench/floor.c" 2>"$WORK/floor.err" ||
  die "cannot build bench/floor.c with gcc -static -nostdlib: $(cat "$WORK/floor.err")"

# A binary written moments ago has dirty page-cache pages, which smaps counts as
# Private_Dirty of every process mapping them: write both out first.
sync "$BIN" "$WORK/floor" 2>/dev/null || sync

start_redis
# Rotation off (max-size 0), so the local file can be checked whole after the run.
CONFIG="[{\"type\":\"redis\",\"data\":{\"stdout\":\"redis://127.0.0.1:$REDIS_PORT/out\",\"stderr\":\"redis://127.0.0.1:$REDIS_PORT/err\"}},{\"type\":\"file\",\"data\":{\"max-size\":0}}]"
CONFIG_FMT="[{\"type\":\"redis\",\"data\":{\"stdout\":\"redis://127.0.0.1:$REDIS_PORT/out?format=json\",\"stderr\":\"redis://127.0.0.1:$REDIS_PORT/err?format=json\"}},{\"type\":\"file\",\"data\":{\"max-size\":0,\"format\":\"cri\"}}]"

# read_mem PID: "VmRSS VmHWM Pss Private_Dirty RssAnon RssFile" in kB, or status 1 if
# PID is gone.
read_mem() {
  local k v rss='' hwm='' pss='' pd='' anon='' file=''
  { while read -r k v _; do
      case $k in VmRSS:) rss=$v ;; VmHWM:) hwm=$v ;; RssAnon:) anon=$v ;; RssFile:) file=$v ;; esac
    done </proc/"$1"/status; } 2>/dev/null || return 1
  { while read -r k v _; do
      case $k in Pss:) pss=$v ;; Private_Dirty:) pd=$v ;; esac
    done </proc/"$1"/smaps_rollup; } 2>/dev/null || return 1
  [ -n "$rss" ] && [ -n "$hwm" ] && [ -n "$pss" ] && [ -n "$pd" ] || return 1
  echo "$rss $hwm $pss $pd $anon $file"
}

clients() {
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" info clients 2>/dev/null |
    sed -n 's/^connected_clients:\([0-9]*\).*/\1/p'
}

declare -A RES RAW
NOTES=()

# measure NAME PROGRAM MODE: run PROGRAM as the logger in MODE (rest|load|formats), fill RES.
measure() {
  local name=$1 prog=$2 mode=$3 root="$WORK/$1-$3" sp lp cp m last='' hwm='' i rc=0 base
  if [ "$mode" = formats ]; then
    write_config "$root" bench bench "$CONFIG_FMT"
  else
    write_config "$root" bench bench "$CONFIG"
  fi
  local cmd
  if [ "$mode" = rest ]; then
    cmd=(sleep "$REST")
  else
    # The container sleeps a little after writing, so the last sample is taken with
    # the load just over and the pipes still open.
    # shellcheck disable=SC2016 # expanded by that sh
    cmd=(sh -c '"$0" "$@" && sleep 0.5' "$LOGGEN" --count "$LINES" --size "$SIZE" --stderr 50)
  fi
  base=$(clients)
  "$SPAWN" --id bench --ns bench --logger "$prog" --root "$root" -- "${cmd[@]}" \
    >"$root.spawn" 2>&1 &
  sp=$!
  track "$sp"
  lp=$(find_child "$sp" "$prog") || die "$name: the logger did not start (see $root.spawn)"
  cp=$(find_child "$sp" - "$lp") || die "$name: the container did not start (see $root.spawn)"
  if [ "$mode" = rest ]; then
    if [ "$name" = shim-logs ]; then
      for ((i = 0; i < 250; i++)); do
        [ "$(clients)" -ge $((base + 2)) ] && break
        sleep 0.02
      done
      [ "$(clients)" -ge $((base + 2)) ] || NOTES+=("$name at rest: endpoints not both connected after 5 s")
    fi
    sleep 0.3
    last=$(read_mem "$lp") || die "$name: the logger is gone before the sample"
    hwm=${last#* }
    hwm=${hwm%% *}
  else
    for ((i = 0; i < 30000; i++)); do # 20 ms apart: at most 10 minutes
      alive "$cp" || break
      # A read can come up empty while the process is still being set up by exec:
      # try again; only a logger that is gone ends the sampling.
      if ! m=$(read_mem "$lp"); then
        alive "$lp" || break
        sleep 0.005
        continue
      fi
      last=$m
      sleep 0.02
    done
    [ -n "$last" ] || die "$name: no sample taken under load"
    # VmHWM only grows: its last value before exit is the peak (the drain included).
    for ((i = 0; i < 3000; i++)); do
      m=$(read_mem "$lp") || break
      hwm=${m#* }
      hwm=${hwm%% *}
      sleep 0.02
    done
    [ -n "$hwm" ] || { hwm=${last#* }; hwm=${hwm%% *}; }
  fi
  wait_gone 30 "$sp" || die "$name: shim-spawn still running 30 s after the load"
  wait "$sp" || rc=$?
  [ "$rc" = 0 ] || NOTES+=("$name $mode: shim-spawn exit status $rc: $(tail -n 2 "$root.spawn" | tr '\n' ' ')")
  local rss pss pd anon file
  read -r rss _ pss pd anon file <<<"$last"
  RES[$name.$mode.rss]+="$rss " RES[$name.$mode.pss]+="$pss " RES[$name.$mode.pd]+="$pd "
  RES[$name.$mode.anon]+="$anon " RES[$name.$mode.file]+="$file " RES[$name.$mode.hwm]+="$hwm "
  if [ "$name" = shim-logs ] && [ "$mode" = load ] && [ -z "${RES[$name.$mode.noted]:-}" ]; then
    RES[$name.$mode.noted]=1
    local log="$root/logs/bench/bench.log" v
    v=$("$LOGGEN" verify --size "$SIZE" --count "$LINES" --stderr 50 "$log" 2>&1 | tail -n 1) || true
    NOTES+=("shim-logs load, local file: $v")
    while read -r v; do
      [ -n "$v" ] && NOTES+=("shim-logs load, endpoint $v")
    done < <(summaries "$root/logs/bench/bench-sys.log")
  fi
}

for ((run = 0; run < RUNS; run++)); do
  measure shim-logs "$BIN" rest
  measure floor "$WORK/floor" rest
  measure shim-logs "$BIN" load
  measure floor "$WORK/floor" load
  measure shim-logs "$BIN" formats
done

# median "V1 V2 ...": the middle value (the lower one of the two middle values).
median() {
  tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
spread() {
  tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo ".." hi }'
}
for k in "${!RES[@]}"; do
  case $k in *.noted) ;; *) RAW[$k]=${RES[$k]} RES[$k]=$(median "${RES[$k]}") ;; esac
done
for p in shim-logs floor; do
  for mode in rest load formats; do
    [ -n "${RES[$p.$mode.hwm]:-}" ] || continue
    NOTES+=("$p $mode: VmHWM over $RUNS run(s): ${RES[$p.$mode.hwm]} kB median, $(spread "${RAW[$p.$mode.hwm]}") kB")
  done
done

ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "n/a" }'
}

echo
echo "Memory (kB), $(date -u +%Y-%m-%dT%H:%MZ), $(machine)"
echo "two Redis endpoints + local file; full load = $LINES lines of $SIZE B, 50% stderr, as fast as possible; median of $RUNS run(s)"
echo "(under load: VmRSS, RssAnon, RssFile, Pss, Private_Dirty at the end of the load; VmHWM: peak)"
COLS=(rss hwm anon file pss pd)
row() {
  printf '%-10s %-10s %7s %7s %8s %8s %7s %14s\n' "$@"
}
hr 78
row scenario program VmRSS VmHWM RssAnon RssFile Pss Private_Dirty
hr 78
for mode in rest load; do
  label=$([ "$mode" = rest ] && echo "at rest" || echo "full load")
  for p in shim-logs floor; do
    vals=()
    for c in "${COLS[@]}"; do vals+=("${RES[$p.$mode.$c]}"); done
    row "$label" "$p" "${vals[@]}"
  done
  vals=()
  for c in "${COLS[@]}"; do vals+=("$(ratio "${RES[shim-logs.$mode.$c]}" "${RES[floor.$mode.$c]}")"); done
  row "$label" ratio "${vals[@]}"
done
vals=()
for c in "${COLS[@]}"; do vals+=("${RES[shim-logs.formats.$c]}"); done
row "formats" shim-logs "${vals[@]}"
hr 78
bytes=$(stat -c %s "$BIN")
printf 'static binary: %s bytes (%s KiB)' "$bytes" "$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1024 }')"
if command -v size >/dev/null 2>&1; then
  size -A "$BIN" | awk '$1 ~ /^\.(text|rodata|eh_frame|eh_frame_hdr|data|bss)$/ { printf "%s%s %s", (n++ ? ", " : "; "), $1, $2 }'
fi
echo
printf 'floor binary:  %s bytes\n' "$(stat -c %s "$WORK/floor")"
for n in "${NOTES[@]}"; do echo "note: $n"; done
