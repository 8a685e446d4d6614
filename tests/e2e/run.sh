#!/usr/bin/env bash
# shim-logs under a real containerd (issue 7).
#
# As root: installs Debian's containerd, runc and busybox-static (and redis-server,
# python3-grpcio) when missing, starts a private containerd (CRI disabled) whose root,
# state, socket and runc root live in a temporary directory, builds a busybox OCI image
# offline, imports it, and runs containers whose log URI is the release binary:
#
#   binary:///abs/target/x86_64-unknown-linux-musl/release/shim-logs?--root=<tmp>/lroot
#
# Scenarios: bulk (100k numbered lines per stream, --rm, local file + real Redis), kill
# (SIGKILL mid-output), restart (containerd's restart monitor restarts the container twice
# under the same id; Redis down for the first run so the spool is resumed by the next
# logger), exec (`ctr task exec --log-uri`: the exec id names the files), tty (a console on
# fd 3; through containerd's gRPC API, since `ctr run -t` drops --log-uri), binary-v2
# (skipped when the installed containerd does not know the scheme).
#
# Teardown (also on failure or signal) removes only what this run started: its tasks and
# containers, containerd, redis-server and any leftover shim or logger (by PID), its
# mounts, its cgroups and the shim sockets of its containers.
#
# Exit: 0 all scenarios passed (a scenario the containerd cannot express is a skip and
# says why), 1 a scenario failed, 77 this machine cannot run containers (not root, no
# cgroups, containerd or runc cannot start a container): the reason is printed.
#
# Environment: SHIM_LOGS_BIN=/abs/path tests another build (default: the release build);
# E2E_ONLY="bulk tty" runs a subset; E2E_KEEP=1 keeps the temporary directory
# (processes, mounts and cgroups are still cleaned up); E2E_LINES (default 100000 per
# stream, 2 x E2E_LINES in all, each line 64 bytes) sizes the bulk scenario.

set -euo pipefail

SKIP=77
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${SHIM_LOGS_BIN:-$REPO/target/x86_64-unknown-linux-musl/release/shim-logs}
HOST_LOGGEN=$REPO/tools/target/release/loggen
STATIC_LOGGEN=$REPO/tools/target/x86_64-unknown-linux-musl/release/loggen
PY=/usr/bin/python3
NS=e2e
IMG=localhost/shim-logs-e2e:busybox
LINES=${E2E_LINES:-100000}
ONLY=${E2E_ONLY:-}
T_START=$(date +%s)

say() { printf '[e2e %s] %s\n' "$(date +%T)" "$*"; }
skip_all() {
  say "SKIP: $*"
  say "this machine cannot run containers; exiting $SKIP (skipped, not passed)"
  exit $SKIP
}

# ---------------------------------------------------------------- preflight
[ "$(id -u)" = 0 ] || skip_all "not root (containerd and runc need root)"
grep -qE '^[^ ]+ /sys/fs/cgroup[^ ]* (cgroup|cgroup2) ' /proc/mounts ||
  skip_all "no cgroup filesystem is mounted under /sys/fs/cgroup"
[ -x "$BIN" ] || { echo "e2e: $BIN missing: run 'make build' first" >&2; exit 1; }
[ -x "$HOST_LOGGEN" ] || { echo "e2e: $HOST_LOGGEN missing: run 'make build' first" >&2; exit 1; }

need=()
command -v containerd >/dev/null && command -v ctr >/dev/null || need+=(containerd)
command -v runc >/dev/null || need+=(runc)
[ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' ||
  need+=(busybox-static)
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-cli >/dev/null || need+=(redis-tools)
command -v file >/dev/null || need+=(file)
"$PY" -c 'import grpc' 2>/dev/null || need+=(python3-grpcio)
if [ ${#need[@]} -gt 0 ]; then
  say "installing from Debian: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  timeout -k 10 300 apt-get update -qq ||
    skip_all "apt-get update failed: cannot install ${need[*]}"
  # The package's service must not start a system containerd: policy-rc.d says no.
  prc=/usr/sbin/policy-rc.d
  made_prc=0
  if [ ! -e $prc ]; then printf '#!/bin/sh\nexit 101\n' >$prc && chmod +x $prc && made_prc=1; fi
  rc=0
  timeout -k 10 600 apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || rc=$?
  [ $made_prc = 1 ] && rm -f $prc
  [ $rc = 0 ] || skip_all "apt-get install ${need[*]} failed (exit $rc)"
fi
[ -x /bin/busybox ] && file -L /bin/busybox | grep -q 'statically linked' ||
  skip_all "/bin/busybox is not a static busybox (busybox-static did not install it)"
HAVE_GRPC=1
"$PY" -c 'import grpc' 2>/dev/null || HAVE_GRPC=0

# A static loggen for inside the containers (the host one is linked to glibc).
(cd "$REPO/tools" && CARGO_TARGET_DIR="$REPO/tools/target" \
  timeout -k 10 300 cargo build -q --release --target x86_64-unknown-linux-musl --bin loggen)
[ -x "$STATIC_LOGGEN" ] || { echo "e2e: no static loggen at $STATIC_LOGGEN" >&2; exit 1; }

# ---------------------------------------------------------------- state and teardown
W=$(mktemp -d /tmp/shim-logs-e2e.XXXXXX)
# The binary under test is copied first: a rebuild during the run cannot change it.
mkdir -p "$W/bin"
cp -p "$BIN" "$W/bin/shim-logs"
BIN=$W/bin/shim-logs
SOCK=$W/containerd.sock
LROOT=$W/lroot
LOGS=$LROOT/logs/$NS
CONF=$LROOT/config/$NS
LURI="binary://$BIN?--root=$LROOT"
CGNAME=shim-logs-e2e-$$-${W##*.}
CTRD_PID=
RUN_CONTAINERD_EXISTED=0
[ -d /run/containerd ] && RUN_CONTAINERD_EXISTED=1
RUN_S_EXISTED=0
[ -d /run/containerd/s ] && RUN_S_EXISTED=1
mkdir -p "$W/root" "$W/state" "$W/opt" "$W/runc" "$LOGS" "$CONF"
: >"$W/ids"
: >"$W/redis.pids"
: >"$W/snapshots"
SHIM=$(readlink -f "$(command -v containerd-shim-runc-v2)")

ctr_() { timeout -k 5 "${CT:-60}" ctr -a "$SOCK" -n "$NS" "$@"; }

pids_matching() { # pids_matching EXE TEXT: PIDs running EXE whose cmdline contains TEXT
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/exe" 2>/dev/null)" = "$1" ] || continue
    if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$2"; then echo "${p#/proc/}"; fi
  done
}

our_cgroups() { # our cgroup directories, in every hierarchy
  find /sys/fs/cgroup -maxdepth 8 -type d -name "$CGNAME" 2>/dev/null || true
}

cleanup() {
  local rc=$? p c h d i
  set +e
  trap - EXIT INT TERM
  say "teardown"
  if [ -n "$CTRD_PID" ] && kill -0 "$CTRD_PID" 2>/dev/null; then
    for c in $(CT=10 ctr_ containers ls -q 2>/dev/null); do
      CT=10 ctr_ containers label "$c" containerd.io/restart.status=stopped >/dev/null 2>&1
      CT=10 ctr_ task kill -s KILL "$c" >/dev/null 2>&1
      CT=20 ctr_ task delete --force "$c" >/dev/null 2>&1
      CT=10 ctr_ containers rm "$c" >/dev/null 2>&1
    done
    for c in $(cat "$W/snapshots"); do CT=10 ctr_ snapshots rm "$c" >/dev/null 2>&1; done
    kill -TERM "$CTRD_PID" 2>/dev/null
    for i in $(seq 50); do kill -0 "$CTRD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$CTRD_PID" 2>/dev/null
    wait "$CTRD_PID" 2>/dev/null
  fi
  # Leftovers, by PID: container processes (in our cgroups), shims (started for our
  # socket), loggers (writing under our root), our redis-servers.
  for d in $(our_cgroups); do
    [ -f "$d/cgroup.procs" ] || continue
    find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -u | while read -r p; do [ -n "$p" ] && kill -KILL "$p" 2>/dev/null; done
  for p in $(pids_matching "$SHIM" "-address $SOCK") $(pids_matching "$BIN" "--root $LROOT"); do
    say "killing leftover pid $p: $(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null)"
    kill -KILL "$p" 2>/dev/null
  done
  for p in $(cat "$W/redis.pids"); do kill -TERM "$p" 2>/dev/null; done
  for p in $(cat "$W/redis.pids"); do
    for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
  done
  # Mounts under our directory, deepest first.
  awk -v w="$W/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r d; do umount "$d" 2>/dev/null || umount -l "$d" 2>/dev/null; done
  # Our cgroups (runc removes the leaves; the parent is ours to remove).
  for i in 1 2 3 4 5; do
    for d in $(our_cgroups); do find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
    [ -z "$(our_cgroups)" ] && break
    sleep 0.2
  done
  [ -n "$(our_cgroups)" ] && say "warning: cgroups left: $(our_cgroups | tr '\n' ' ')"
  # Shim sockets: /run/containerd/s/<sha256 of "<address>/<ns>/<id>">.
  while read -r i; do
    [ -n "$i" ] || continue
    h=$(printf '%s' "$SOCK/$NS/$i" | sha256sum | cut -d' ' -f1)
    [ -S "/run/containerd/s/$h" ] && rm -f "/run/containerd/s/$h"
  done <"$W/ids"
  [ $RUN_S_EXISTED = 0 ] && rmdir /run/containerd/s 2>/dev/null
  [ $RUN_CONTAINERD_EXISTED = 0 ] && rmdir /run/containerd 2>/dev/null
  if [ "${E2E_KEEP:-0}" = 1 ]; then say "kept $W"; else rm -rf "$W"; fi
  say "total $(($(date +%s) - T_START)) s"
  exit $rc
}
SC_PID=
on_signal() { # stop the running scenario (a background subshell), then exit: cleanup runs
  [ -n "$SC_PID" ] && kill -TERM "$SC_PID" 2>/dev/null
  exit "$1"
}
trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

# ---------------------------------------------------------------- helpers
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...: poll every 0.1 s
  local secs=$1 what=$2 end
  shift 2
  end=$(($(date +%s%N) + secs * 1000000000))
  until "$@"; do
    if [ "$(date +%s%N)" -gt $end ]; then echo "timed out after ${secs}s waiting for $what" >&2; return 1; fi
    sleep 0.1
  done
}
count() { # count PATTERN FILE: matching lines (0 if no file)
  local n
  n=$(grep -c -a -E -- "$1" "$2" 2>/dev/null) || true
  echo "${n:-0}"
}
exits_ge() { [ "$(count ' exit: local file ' "$LOGS/$1-sys.log")" -ge "$2" ]; }
starts_ge() { [ "$(count ' info shim-logs .* start pid ' "$LOGS/$1-sys.log")" -ge "$2" ]; }
lines_ge() { [ "$(count "$2" "$LOGS/$1.log")" -ge "$3" ]; }
task_status() { CT=10 ctr_ task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }'; }
task_is() { [ "$(task_status "$1")" = "$2" ]; }
task_pid() { CT=10 ctr_ task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $2 }'; }
logger_pids() { pids_matching "$BIN" "--root $LROOT" | while read -r p; do
  tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "CONTAINER_ID=$1" && echo "$p"; done; }
no_logger() { [ -z "$(logger_pids "$1")" ]; }
fail() { echo "FAIL: $*" >&2; return 1; }
ids() { printf '%s\n' "$@" >>"$W/ids"; }
runflags() { RF=(--runc-root "$W/runc" --cgroup "$CGNAME/$1"); } # sets RF for ctr run
spools() { compgen -G "$LOGS/$1.*.spool" || true; }
redis_conf() { # redis_conf ID PORT KEY_PREFIX: rpush config for ID
  printf '[{"type":"redis","data":{"stdout":"redis://127.0.0.1:%s/%s-out?cmd=rpush","stderr":"redis://127.0.0.1:%s/%s-err?cmd=rpush"}}]\n' \
    "$2" "$3" "$2" "$3" >"$CONF/$1-logs.json"
}
redis_dump() { # redis_dump PORT KEY FILE: the list's elements, one line each
  timeout -k 5 60 redis-cli -p "$1" --raw lrange "$2" 0 -1 | sed '/^$/d' >"$3"
}
llen() { timeout -k 5 10 redis-cli -p "$1" llen "$2"; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
start_redis() { # start_redis PORT: a private redis-server, no persistence
  local dir=$W/redis-$1
  mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port "$1" --save "" --appendonly no --dir "$dir" \
    --daemonize no --logfile "$dir/redis.log" --protected-mode yes &
  echo $! >>"$W/redis.pids"
  wait_for 10 "redis-server on $1" sh -c "redis-cli -p $1 ping 2>/dev/null | grep -q PONG"
}
show_sys() { # show_sys ID: the diagnostics, indented
  sed 's/^/    | /' "$LOGS/$1-sys.log" 2>/dev/null || echo "    | (no $1-sys.log)"
}
sys_clean() { # sys_clean ID: no warn or error line in the diagnostics
  if grep -qE '^[^ ]+ (warn|error) ' "$LOGS/$1-sys.log"; then
    fail "$1-sys.log has warnings or errors:"
    grep -E '^[^ ]+ (warn|error) ' "$LOGS/$1-sys.log" | sed 's/^/    ! /' >&2
    return 1
  fi
}
verify() { # verify ARGS...: loggen verify, output indented
  local out rc=0
  out=$("$HOST_LOGGEN" verify "$@" 2>&1) || rc=$?
  echo "    $out"
  return $rc
}
split_runs() { # split_runs FILE PREFIX: per-run segments of a restarted container's output
  awk -v p="$2" '/^R-out/ { o++ } /^R-err/ { e++ } /^O / { print > (p "." o) } /^E / { print > (p "." e) }' "$1"
}

# ---------------------------------------------------------------- containerd and the image
cat >"$W/config.toml" <<EOF
version = 2
root = "$W/root"
state = "$W/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$W/opt"
[plugins."io.containerd.internal.v1.restart"]
  interval = "1s"
EOF
say "$("$BIN" --version 2>&1 | head -1) ($(sha256sum "$BIN" | cut -c1-12)), built $(date -r "$BIN" -u +%FT%TZ)"
say "containerd $(containerd --version | awk '{print $3}'), runc $(runc --version | awk 'NR==1{print $3}'), cgroups $(
  [ -f /sys/fs/cgroup/cgroup.controllers ] && echo v2 || echo v1)"
containerd --config "$W/config.toml" >"$W/containerd.log" 2>&1 &
CTRD_PID=$!
if ! wait_for 20 "containerd to serve $SOCK" sh -c "timeout -k 1 3 ctr -a '$SOCK' version >/dev/null 2>&1"; then
  tail -20 "$W/containerd.log" | sed 's/^/    containerd: /'
  skip_all "containerd did not start"
fi

say "building the busybox image offline"
build_image() {
  local d=$W/img r
  r=$d/rootfs
  mkdir -p "$r/bin" "$r/dev" "$r/proc" "$r/sys" "$r/tmp" "$r/etc" "$d/layout/blobs/sha256"
  cp /bin/busybox "$r/bin/busybox"
  cp "$STATIC_LOGGEN" "$r/bin/loggen"
  for a in $(/bin/busybox --list); do [ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"; done
  echo 'root:x:0:0:root:/:/bin/sh' >"$r/etc/passwd"
  echo 'root:x:0:' >"$r/etc/group"
  chmod 1777 "$r/tmp"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$r" -cf "$d/layer.tar" .
  blob() { local h; h=$(sha256sum "$1" | cut -d' ' -f1); cp "$1" "$d/layout/blobs/sha256/$h"; echo "$h"; }
  LAYER=$(blob "$d/layer.tar")
  printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["/bin/sh"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$LAYER" >"$d/config.json"
  local cfg
  cfg=$(blob "$d/config.json")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$cfg" "$(stat -c %s "$d/config.json")" "$LAYER" "$(stat -c %s "$d/layer.tar")" >"$d/manifest.json"
  local man
  man=$(blob "$d/manifest.json")
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"busybox"}}]}' \
    "$man" "$(stat -c %s "$d/manifest.json")" "$IMG" >"$d/layout/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$d/layout/oci-layout"
  tar -C "$d/layout" -cf "$d/image.tar" oci-layout index.json blobs
}
build_image
CT=120 ctr_ image import "$W/img/image.tar" >/dev/null
CT=10 ctr_ image ls -q | grep -qx "$IMG" || { echo "e2e: image import failed" >&2; exit 1; }

say "probe: can runc start a container here?"
ids probe
runflags probe
if ! out=$(CT=60 ctr_ run --rm --null-io "${RF[@]}" "$IMG" probe true 2>&1); then
  echo "$out" | sed 's/^/    ctr: /'
  tail -10 "$W/containerd.log" | sed 's/^/    containerd: /'
  skip_all "ctr run of a trivial container failed"
fi

R1=$(free_port)
start_redis "$R1"
say "redis-server on 127.0.0.1:$R1"

# ---------------------------------------------------------------- scenarios

# 1. Many numbered lines on both streams, then exit; --rm. Every line in the local file
#    and, through rpush, on a real Redis.
sc_bulk() {
  local id=bulk n=$((LINES * 2)) t0 t1 lo le
  ids $id
  redis_conf $id "$R1" $id
  t0=$(date +%s%N)
  runflags $id
  CT=180 ctr_ run --rm "${RF[@]}" --log-uri "$LURI" "$IMG" $id loggen --count $n --stderr 50
  t1=$(date +%s%N)
  wait_for 15 "the $id logger to exit" exits_ge $id 1
  wait_for 5 "the $id logger process to go" no_logger $id
  show_sys $id
  echo "    ctr run --rm: $(((t1 - t0) / 1000000)) ms for $n lines ($(stat -c %s "$LOGS/$id.log") bytes)"
  verify --count $n --stderr 50 "$LOGS/$id.log"
  lo=$(llen "$R1" $id-out)
  le=$(llen "$R1" $id-err)
  echo "    redis: $id-out $lo, $id-err $le elements"
  redis_dump "$R1" $id-out "$W/$id.out"
  redis_dump "$R1" $id-err "$W/$id.err"
  verify --count $n --stderr 50 "$W/$id.out" "$W/$id.err"
  [ $((lo + le)) -eq $n ] || fail "redis holds $((lo + le)) lines, expected $n"
  sys_clean $id
  [ -z "$(spools $id)" ] || fail "spool files left: $(spools $id)"
  if CT=10 ctr_ containers ls -q | grep -qx $id; then fail "--rm left the container"; fi
}

# 2. A container killed (SIGKILL) in the middle of its output: what it wrote is complete,
#    in order, and the same in the file and on Redis; the logger exits at delete.
sc_kill() {
  local id=killed st n lo le
  ids $id
  redis_conf $id "$R1" $id
  runflags $id
  CT=60 ctr_ run -d "${RF[@]}" --log-uri "$LURI" "$IMG" $id \
    loggen --count 100000000 --rate 20000 --stderr 50
  wait_for 30 "$id to write 10000 lines" lines_ge $id '^[OE] ' 10000
  CT=20 ctr_ task kill -s KILL $id
  wait_for 20 "$id to stop" task_is $id STOPPED
  st=$(CT=30 ctr_ task delete $id 2>&1 | tr '\n' ' ')
  echo "    task delete: $st"
  CT=20 ctr_ containers rm $id
  wait_for 15 "the $id logger to exit" exits_ge $id 1
  wait_for 5 "the $id logger process to go" no_logger $id
  show_sys $id
  n=$(count '^[OE] ' "$LOGS/$id.log")
  verify "$LOGS/$id.log"
  lo=$(llen "$R1" $id-out)
  le=$(llen "$R1" $id-err)
  echo "    local file $n lines; redis $lo + $le"
  redis_dump "$R1" $id-out "$W/$id.out"
  redis_dump "$R1" $id-err "$W/$id.err"
  verify "$W/$id.out" "$W/$id.err"
  [ $((lo + le)) -eq "$n" ] || fail "redis holds $((lo + le)) lines, the local file $n"
  sys_clean $id
}

# 3. containerd's restart monitor restarts the container twice under the same id: three
#    loggers in turn. Redis is down during the first run (its logger spools), up from the
#    second (that logger resumes the spool). The local file is appended, never truncated.
sc_restart() {
  local id=restarts n=2000 P2 run k
  ids $id
  P2=$(free_port)
  redis_conf $id "$P2" $id
  runflags $id
  CT=60 ctr_ run -d "${RF[@]}" --log-uri "$LURI" \
    --label containerd.io/restart.status=running --label "containerd.io/restart.loguri=$LURI" \
    "$IMG" $id sh -c "echo R-out; echo R-err >&2; loggen --count $n --stderr 50; exec sleep 3600"
  for run in 1 2 3; do
    wait_for 30 "run $run of $id to write its lines" lines_ge $id '^[OE] ' $((run * n))
    echo "    run $run: task pid $(task_pid $id), $(count '^[OE] ' "$LOGS/$id.log") lines in the file"
    [ $run = 3 ] && break
    CT=20 ctr_ task kill -s KILL $id
    # The monitor deletes the stopped task (the logger's SIGTERM; with Redis down it
    # flushes for up to 9 s) and starts a new one with the loguri label.
    wait_for 40 "the restart monitor to start logger $((run + 1)) for $id" starts_ge $id $((run + 1))
    wait_for 20 "$id to run again" task_is $id RUNNING
    if [ $run = 1 ]; then
      exits_ge $id 1 || fail "logger 2 started before logger 1 exited"
      [ -n "$(spools $id)" ] || fail "logger 1 left no spool (Redis was down)"
      start_redis "$P2"
      echo "    redis-server on 127.0.0.1:$P2 started after run 1"
    fi
  done
  CT=10 ctr_ containers label $id containerd.io/restart.status=stopped >/dev/null
  CT=20 ctr_ task kill -s KILL $id >/dev/null 2>&1 || true
  wait_for 30 "$id to stop for good" sh -c "s=\$(timeout -k 1 10 ctr -a '$SOCK' -n $NS task ls 2>/dev/null | awk '\$1 == \"$id\" { print \$3 }'); [ -z \"\$s\" ] || [ \"\$s\" = STOPPED ]"
  CT=30 ctr_ task delete $id >/dev/null 2>&1 || true
  CT=20 ctr_ containers rm $id
  wait_for 20 "the three $id loggers to exit" exits_ge $id 3
  wait_for 5 "the $id logger processes to go" no_logger $id
  show_sys $id
  [ "$(count ' start pid ' "$LOGS/$id-sys.log")" = 3 ] || fail "expected 3 loggers"
  grep -q 'resuming spool' "$LOGS/$id-sys.log" || fail "no logger resumed the spool"
  split_runs "$LOGS/$id.log" "$W/$id.file"
  for k in 1 2 3; do verify --count $n --stderr 50 "$W/$id.file.$k"; done
  [ ! -e "$W/$id.file.4" ] || fail "a 4th run in the local file"
  # Redis lists are per stream; the run markers split them the same way.
  redis_dump "$P2" $id-out "$W/$id.out"
  redis_dump "$P2" $id-err "$W/$id.err"
  cat "$W/$id.out" "$W/$id.err" | split_runs /dev/stdin "$W/$id.redis"
  echo "    redis: $id-out $(llen "$P2" $id-out), $id-err $(llen "$P2" $id-err) elements (at-least-once: duplicates allowed)"
  for k in 1 2 3; do verify --allow-dups --count $n --stderr 50 "$W/$id.redis.$k"; done
  [ -z "$(spools $id)" ] || fail "spool left after the last run: $(spools $id)"
  if grep -E '^[^ ]+ error ' "$LOGS/$id-sys.log"; then fail "errors in $id-sys.log"; fi
}

# 4. `ctr task exec --log-uri`: the logger's CONTAINER_ID is the exec id, so the exec's
#    lines go to <exec-id>.log with <exec-id>-logs.json as config, not to the container's.
sc_exec() {
  local id=execbox n=5000
  ids $id
  redis_conf ex1 "$R1" ex1
  runflags $id
  CT=60 ctr_ run -d "${RF[@]}" --log-uri "$LURI" "$IMG" $id sh -c 'echo box-started; exec sleep 3600'
  wait_for 10 "$id to log" lines_ge $id '^box-started' 1
  CT=120 ctr_ task exec --exec-id ex1 --log-uri "$LURI" $id loggen --count $n --stderr 50
  CT=60 ctr_ task exec --exec-id ex2 --log-uri "$LURI" $id sh -c 'echo ex2-out; echo ex2-err >&2'
  wait_for 15 "the ex1 logger to exit" exits_ge ex1 1
  wait_for 15 "the ex2 logger to exit" exits_ge ex2 1
  show_sys ex1
  show_sys ex2
  grep -q ' id ex1 namespace ' "$LOGS/ex1-sys.log" || fail "ex1-sys.log does not name ex1"
  verify --count $n --stderr 50 "$LOGS/ex1.log"
  redis_dump "$R1" ex1-out "$W/ex1.out"
  redis_dump "$R1" ex1-err "$W/ex1.err"
  verify --count $n --stderr 50 "$W/ex1.out" "$W/ex1.err"
  [ "$(cat "$LOGS/ex2.log")" = "$(printf 'ex2-out\nex2-err')" ] ||
    [ "$(cat "$LOGS/ex2.log")" = "$(printf 'ex2-err\nex2-out')" ] ||
    fail "ex2.log: $(od -c "$LOGS/ex2.log" | head -5)"
  [ "$(cat "$LOGS/$id.log")" = box-started ] || fail "the container's own log changed: $(head -3 "$LOGS/$id.log")"
  CT=20 ctr_ task kill -s KILL $id
  wait_for 20 "$id to stop" task_is $id STOPPED
  CT=30 ctr_ task delete $id >/dev/null 2>&1
  CT=20 ctr_ containers rm $id
  wait_for 15 "the $id logger to exit" exits_ge $id 1
  show_sys $id
  sys_clean ex1
  sys_clean ex2
  sys_clean $id
}

# 5. A TTY container: the console reaches the logger on fd 3 (stderr too, through the
#    console), fd 4 is at end of file from the start. ctr cannot combine -t and
#    --log-uri, so the task is created through containerd's gRPC API (tty_task.py).
sc_tty() {
  local id=tty n=1000 pid
  if [ $HAVE_GRPC = 0 ]; then echo "    SKIP: python3-grpcio is not available"; return $SKIP; fi
  ids $id
  CT=30 ctr_ snapshots --snapshotter overlayfs prepare $id-snap "sha256:$LAYER" >/dev/null
  echo $id-snap >>"$W/snapshots"
  CT=10 ctr_ oci spec | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
s["process"]["terminal"] = True
s["process"]["args"] = ["sh", "-c", "echo tty-hello; tty; echo to-stderr >&2; loggen --count '$n'"]
s["process"]["env"] = ["PATH=/bin", "TERM=xterm"]
s["linux"]["cgroupsPath"] = sys.argv[1]
s["hostname"] = "tty"
json.dump(s, open(sys.argv[2], "w"))' "$CGNAME/$id" "$W/$id-spec.json"
  CT=20 ctr_ containers create --config "$W/$id-spec.json" $id
  pid=$(timeout -k 5 60 "$PY" "$REPO/tests/e2e/tty_task.py" "$SOCK" $NS $id overlayfs $id-snap "$LURI" "$W/runc")
  echo "    task pid $pid (terminal)"
  wait_for 30 "$id to finish" task_is $id STOPPED
  wait_for 15 "the console output to reach $id.log" lines_ge $id '^O ' $n
  # In TTY mode no SIGTERM comes: the logger ends when both fds are at end of file.
  # containerd 1.6's shim closes the console copy (fd 3) when the task is deleted
  # (sometimes already when the process exits).
  if exits_ge $id 1; then echo "    the logger exited before the task was deleted"; fi
  CT=30 ctr_ task delete $id >/dev/null
  wait_for 15 "the $id logger to exit once the task is deleted" exits_ge $id 1
  wait_for 5 "the $id logger process to go" no_logger $id
  CT=20 ctr_ containers rm $id
  if grep -q ' signal ' "$LOGS/$id-sys.log"; then echo "    (the logger got a signal)"; else echo "    (no signal: the logger ended on end of file)"; fi
  show_sys $id
  grep -qa $'^tty-hello\r$' "$LOGS/$id.log" || fail "no tty-hello\\r line (console output with ONLCR)"
  grep -qa $'^/dev/pts/[0-9]*\r$' "$LOGS/$id.log" || fail "tty did not print a pts"
  grep -qa $'^to-stderr\r$' "$LOGS/$id.log" || fail "stderr did not come through the console"
  tr -d '\r' <"$LOGS/$id.log" | grep -a '^O ' >"$W/$id.lines"
  verify --count $n "$W/$id.lines"
  sys_clean $id
}

# 6. binary-v2:// (a byte on fd 5 required), if this containerd knows the scheme.
sc_binary_v2() {
  local id=v2 out
  ids $id
  runflags $id
  if ! out=$(CT=60 ctr_ run --rm "${RF[@]}" --log-uri "binary-v2://$BIN?--root=$LROOT" "$IMG" $id \
    loggen --count 1000 --stderr 50 2>&1); then
    if echo "$out" | grep -q 'unknown STDIO scheme binary-v2'; then
      echo "    SKIP: containerd $(containerd --version | awk '{print $3}') does not know binary-v2 ($(echo "$out" | grep -o 'unknown STDIO scheme binary-v2'))"
      CT=10 ctr_ containers rm $id >/dev/null 2>&1 || true
      return $SKIP
    fi
    echo "$out" | sed 's/^/    ctr: /'
    return 1
  fi
  wait_for 15 "the $id logger to exit" exits_ge $id 1
  show_sys $id
  verify --count 1000 --stderr 50 "$LOGS/$id.log"
  sys_clean $id
}

PASSED=0 FAILED=0 SKIPPED=0
RESULTS=()
for sc in bulk kill restart exec tty binary_v2; do
  if [ -n "$ONLY" ] && ! echo " $ONLY " | grep -q " $sc "; then continue; fi
  say "scenario $sc"
  t0=$(date +%s%N)
  # In the background, so that a signal reaches the trap at once; and not `|| rc=$?`,
  # which would switch errexit off inside the scenario.
  set +e
  (set -euo pipefail; "sc_$sc") &
  SC_PID=$!
  wait $SC_PID
  rc=$?
  SC_PID=
  set -e
  ms=$((($(date +%s%N) - t0) / 1000000))
  if [ $rc = 0 ]; then
    PASSED=$((PASSED + 1)); RESULTS+=("ok    $sc (${ms} ms)")
  elif [ $rc = $SKIP ]; then
    SKIPPED=$((SKIPPED + 1)); RESULTS+=("skip  $sc (${ms} ms)")
  else
    FAILED=$((FAILED + 1)); RESULTS+=("FAIL  $sc (${ms} ms, exit $rc)")
    tail -15 "$W/containerd.log" | cut -c1-400 | sed 's/^/    containerd: /'
  fi
done

say "results"
printf '    %s\n' "${RESULTS[@]}"
echo "e2e: $PASSED passed, $FAILED failed, $SKIPPED skipped"
[ $FAILED = 0 ]
