#!/usr/bin/env bash
# bench/all.sh: every benchmark of bench/, one after the other, each ending with its
# table: memory and binary size (rss.sh), ready latency (ready.sh), throughput against
# cat and redis-benchmark (throughput.sh), instructions and syscalls per line (cpu.sh).
# Starts with the date, the machine (cores, CPU, kernel) and the revision. Runs every
# script even if one fails, and then exits 1 naming the failed ones.
#
# Usage: bench/all.sh [--quick]   (--quick: smoke runs of a few seconds each, for CI)
# Needs: make build, and what each script needs (see their --help).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

ARGS=()
for a in "$@"; do
  case $a in
    --quick) ARGS+=(--quick) ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$a' (try --help)" ;;
  esac
done

cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo 2>/dev/null | head -n 1)
echo "shim-logs benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')${ARGS[*]:+ (${ARGS[*]})}"
echo "machine: $(nproc) cores${cpu:+ ($cpu)}, Linux $(uname -r), load $(cut -d" " -f1-3 /proc/loadavg), $(awk '/^MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo)"
echo "revision: $(revision) (git describe of the tree); binary: $BIN"
echo "binary: $(stat -c '%s bytes, built %y' "$BIN" 2>/dev/null | cut -d. -f1), sha256 $(sha256sum "$BIN" 2>/dev/null | cut -c1-16)"

FAILED=()
for s in rss ready throughput cpu; do
  echo
  echo "== bench/$s.sh ${ARGS[*]:-}"
  rc=0
  "$REPO/bench/$s.sh" "${ARGS[@]}" &
  pid=$!
  track "$pid"
  wait "$pid" || rc=$?
  [ "$rc" = 0 ] || FAILED+=("$s.sh (exit $rc)")
done
echo
if [ "${#FAILED[@]}" -gt 0 ]; then
  echo "failed: ${FAILED[*]}"
  exit 1
fi
echo "all benchmarks ran"
