#!/usr/bin/env bash
# bench/ready.sh: ready latency, from shim-spawn starting the logger (fork/exec) to the
# byte on fd 5, as shim-spawn reports it ("logger ready in X ms"), with two endpoints
# that are unreachable (loopback ports nothing listens on: connect is refused). Readiness
# must not wait for the network. The median of RUNS runs, with min and max, for the
# release binary starting a new container (fresh root: it creates the log directory
# and files) and restarting one (the same root again: they exist), and, for scale, for
# the floor program (bench/floor.c: writes the ready byte first thing), which is the
# cost of creating the process. The three are run in turn, so noise falls on all.
#
# Usage: bench/ready.sh [--quick]   (--quick: 5 runs instead of 20)
# Needs: make build; gcc (static link), python3.
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

need python3 gcc
need_built
if [ "$QUICK" = 1 ]; then RUNS=5; else RUNS=20; fi

gcc -static -nostdlib -ffreestanding -fno-stack-protector -fno-asynchronous-unwind-tables \
  -Os -o "$WORK/floor" "$REPO/bench/floor.c" 2>"$WORK/floor.err" ||
  die "cannot build bench/floor.c with gcc -static -nostdlib: $(cat "$WORK/floor.err")"

P1=$(free_port)
P2=$(free_port)
CONFIG="[{\"type\":\"redis\",\"data\":{\"stdout\":\"redis://127.0.0.1:$P1/out\",\"stderr\":\"redis://127.0.0.1:$P2/err\"}}]"

# ready_ms PROGRAM ROOT: one run; prints shim-spawn's ready time in ms.
ready_ms() {
  local pid rc=0 ms
  # The container writes nothing, so the logger has nothing to deliver at shutdown
  # and exits at once (a pending line would be retried until the 9 s deadline).
  "$SPAWN" --id bench --ns bench --grace 5 --logger "$1" --root "$2" -- true >"$WORK/spawn.out" 2>&1 &
  pid=$!
  track "$pid"
  wait_gone 20 "$pid" || die "shim-spawn still running after 20 s"
  wait "$pid" || rc=$?
  [ "$rc" = 0 ] || die "shim-spawn exit status $rc: $(tail -n 3 "$WORK/spawn.out")"
  ms=$(sed -n 's/.*logger ready in \([0-9.]*\) ms (byte).*/\1/p' "$WORK/spawn.out")
  [ -n "$ms" ] || die "no ready byte reported: $(cat "$WORK/spawn.out")"
  echo "$ms"
}

# Round-robin, so that the machine's noise falls on every row alike.
declare -A ALL=([new]='' [restart]='' [floor]='')
RESTART_ROOT="$WORK/root-restart"
write_config "$RESTART_ROOT" bench bench "$CONFIG"
ready_ms "$BIN" "$RESTART_ROOT" >/dev/null # the restart case finds its files in place
grep -q "connection refused\|connect failed" "$RESTART_ROOT/logs/bench/bench-sys.log" ||
  note "expected a refused connect in sys.log"
for ((i = 1; i <= RUNS; i++)); do
  root="$WORK/root-new-$i"
  write_config "$root" bench bench "$CONFIG"
  ALL[new]+=" $(ready_ms "$BIN" "$root")"
  rm -rf "$root"
  ALL[restart]+=" $(ready_ms "$BIN" "$RESTART_ROOT")"
  ALL[floor]+=" $(ready_ms "$WORK/floor" "$WORK/floor-root")"
done

stats() {
  # shellcheck disable=SC2086
  printf '%s\n' $1 | sort -g | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%8.3f %8.3f %8.3f", m, v[1], v[NR] }'
}

echo
echo "Ready latency (ms), $(date -u +%Y-%m-%dT%H:%MZ), $(machine)"
echo "fork/exec by shim-spawn to the byte on fd 5; two endpoints refusing connections; $RUNS runs"
hr 64
printf '%-36s %8s %8s %8s\n' program median min max
hr 64
printf '%-36s %s\n' "shim-logs, new container" "$(stats "${ALL[new]}")"
printf '%-36s %s\n' "shim-logs, restart (files exist)" "$(stats "${ALL[restart]}")"
printf '%-36s %s\n' "floor (process creation)" "$(stats "${ALL[floor]}")"
hr 64
