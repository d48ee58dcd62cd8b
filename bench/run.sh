#!/usr/bin/env bash
# Use: bench/run.sh [-C kubernetes|kubeadm] [-l SECS] [-r ROUNDS] [-S STARTS] [-s SERVICES] [-e ENDPOINTS]
#                    [-n EDITS] [-b EDITS] [-m "MIX ..."] [-p] [-P MIX] [-M] [-w WORKERS] [-o OUTDIR]
#   (npm run bench -- -l 5)
#
# The clusterdns benchmark harness (issue 5). On 127.0.0.1 only, every step bounded:
#   1. installs dnsperf if missing (apt-get when root, otherwise says how);
#   2. generates the fixture cluster (bench/gen-cluster.mjs), cached under ~/.cache/clusterdns/bench by size;
#   3. starts clusterdns pinned to cpu0 on the Corefile of the mode (-C), records the initial sync time (start to
#      first answer; start to the "fixture loaded" log) and VmRSS after sync, over STARTS starts. Modes:
#        kubernetes  only `kubernetes cluster.local in-addr.arpa ip6.arpa { fixture DIR }` (the default);
#        kubeadm     the kubeadm default Corefile (errors, health, ready, kubernetes, prometheus, forward, cache 30,
#                    loop, reload, loadbalance) on the same fixture, with health/ready/prometheus on loopback ports
#                    and `forward .` to bench/upstream.mjs (pinned to the client CPU), which answers the names
#                    outside the cluster from DIR/upstream.json; adds the `forward` mix (forwarded names answered
#                    from cache: each measured run follows one unrecorded pass over the mix that fills the cache,
#                    and the queries reaching the upstream during the run are counted as cache misses);
#   4. after a 3 s unrecorded warm-up, for each round and each query mix, runs dnsperf pinned to cpu1
#      (-c 1 -q 100, -l SECS) against the fixed-response ceiling (bench/responder.mjs, also on cpu0, while clusterdns sits idle) and then against
#      clusterdns: each mix is compared with the ceiling run just before it, as the machine is shared and noisy;
#   5. with -p, profiles one mix (-P, default clusterip-a; bench/prof-hook.mjs, load window only), top self times;
#   6. measures programming latency: EDITS rewrites of one EndpointSlice in a small separate fixture directory, each
#      timed from the file rename until a query returns the new address (includes the fixture watcher's debounce);
#      and, with -b, a few edits of a slice file placed beside the big cluster (the fixture source reloads the
#      whole directory on any edit, so this shows how an edit's cost grows with the cluster); both on the
#      kubernetes-only Corefile in every mode (kubeadm's cache is disabled for cluster.local, so it adds nothing);
#   7. prints the results as markdown (bench/report.mjs) and leaves raw outputs in OUTDIR.
#
# Options:
#   -C MODE       Corefile: kubernetes (default) or kubeadm (see step 3)
#   -l SECS       dnsperf run length per mix (default 10)
#   -r ROUNDS     rounds of (ceiling, mix) pairs; the report gives medians (default 1)
#   -s SERVICES   Services in the generated cluster (default 10000)
#   -e ENDPOINTS  endpoints in the generated cluster (default 150000)
#   -S STARTS     clusterdns starts for the sync time and RSS figures (median reported; default 3)
#   -n EDITS      programming-latency edits in the small fixture (default 200, ~30 s; nearest-rank percentiles, so
#                 from 100 edits on the p99 is not the maximum; 0 skips)
#   -b EDITS      programming-latency edits beside the big cluster (default 3; 0 skips)
#   -m "MIX ..."  query mixes (default: clusterip-a headless-a endpoint-a srv ptr aaaa-nodata nxdomain-search, and
#                 forward in kubeadm mode; forward needs -C kubeadm). With forward, keep -l under ~25 s: cache 30 caps
#                 TTLs at 30 s, so entries stored by the pass before the run start expiring after that
#   -p            also take a CPU profile of one mix (-P)
#   -P MIX        the mix -p profiles (default clusterip-a); implies -p
#   -M            sync and memory only: the starts (sync time, RSS after sync) and the -b edits beside the big
#                 cluster (reload time, peak RSS); no dnsperf, no mixes, no warm-up, and -n defaults to 0
#   -w WORKERS    start clusterdns with `-workers WORKERS` (default 1). Above 1 it needs a Node.js with reusePort:
#                 CLUSTERDNS_NODE, else Node 24 through `npx -p node@24`; the server and dnsperf then run on every
#                 CPU (SERVER_CPU and CLIENT_CPU default to all of them) and dnsperf uses DNSPERF_CLIENTS (8) client
#                 sockets, since the kernel hands each client socket to one worker. Sync times and RSS count all workers
#   -o OUTDIR     where raw outputs go (default $TMPDIR/clusterdns-bench/<timestamp>)
# Environment: CLUSTERDNS_PORT (15353), CEILING_PORT (15400), PROG_PORT (15354), SERVER_CPU (0), CLIENT_CPU (1);
#   CLUSTERDNS_NODE (node): the Node.js running clusterdns; DNSPERF_CLIENTS (1, or 8 with -w above 1): dnsperf -c;
#   kubeadm mode: UPSTREAM_PORT (UDP, 15355), HEALTH_PORT (TCP, 15380), READY_PORT (TCP, 15381),
#   METRICS_PORT (TCP, 15382); CLUSTERDNS_DIST (default ./dist): the build to run, e.g. another worktree's, so two
#   builds can be compared with the same harness and cluster.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
SECS=10 ROUNDS=1 STARTS=3 SERVICES=10000 ENDPOINTS=150000 EDITS=200 BIG_EDITS=3 PROFILE=0 OUT="" MEMONLY=0 EDITS_SET=0
MODE=kubernetes PROF_MIX=clusterip-a MIXES_SET=0 WORKERS=1
MIXES="clusterip-a headless-a endpoint-a srv ptr aaaa-nodata nxdomain-search"
while getopts "C:l:r:S:s:e:n:b:m:pP:Mw:o:h" opt; do
  case $opt in
    C) MODE=$OPTARG ;;
    l) SECS=$OPTARG ;;
    r) ROUNDS=$OPTARG ;;
    S) STARTS=$OPTARG ;;
    b) BIG_EDITS=$OPTARG ;;
    s) SERVICES=$OPTARG ;;
    e) ENDPOINTS=$OPTARG ;;
    n) EDITS=$OPTARG EDITS_SET=1 ;;
    m) MIXES=$OPTARG MIXES_SET=1 ;;
    p) PROFILE=1 ;;
    P) PROFILE=1 PROF_MIX=$OPTARG ;;
    M) MEMONLY=1 ;;
    w) WORKERS=$OPTARG ;;
    o) OUT=$OPTARG ;;
    *) sed -n '2,/^set -u/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
case $MODE in
  kubernetes) case " $MIXES $PROF_MIX " in *" forward "*)
    echo "[bench] error: the forward mix needs a Corefile with forward: add -C kubeadm" >&2; exit 2 ;; esac ;;
  kubeadm) [ "$MIXES_SET" = 1 ] || MIXES="$MIXES forward" ;;
  *) echo "[bench] error: -C takes kubernetes or kubeadm, not '$MODE'" >&2; exit 2 ;;
esac
if [ "$MEMONLY" = 1 ]; then
  MIXES="" PROFILE=0
  [ "$EDITS_SET" = 1 ] || EDITS=0
fi
CD_PORT=${CLUSTERDNS_PORT:-15353}
CEIL_PORT=${CEILING_PORT:-15400}
PROG_PORT=${PROG_PORT:-15354}
case $WORKERS in ''|*[!0-9]*) echo "[bench] error: -w takes a number, not '$WORKERS'" >&2; exit 2 ;; esac
ALL_CPUS=0-$(($(nproc) - 1))
if [ "$WORKERS" -gt 1 ]; then
  SRV_CPU=${SERVER_CPU:-$ALL_CPUS} CLI_CPU=${CLIENT_CPU:-$ALL_CPUS} CLIENTS=${DNSPERF_CLIENTS:-8}
else
  SRV_CPU=${SERVER_CPU:-0} CLI_CPU=${CLIENT_CPU:-1} CLIENTS=${DNSPERF_CLIENTS:-1}
fi
UP_PORT=${UPSTREAM_PORT:-15355}
HEALTH_PORT=${HEALTH_PORT:-15380}
READY_PORT=${READY_PORT:-15381}
METRICS_PORT=${METRICS_PORT:-15382}
CD_DIST=$(cd "${CLUSTERDNS_DIST:-$ROOT/dist}" 2>/dev/null && pwd) || { echo "[bench] error: no directory ${CLUSTERDNS_DIST:-}" >&2; exit 2; }
OUT=${OUT:-${TMPDIR:-/tmp}/clusterdns-bench/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
FACTS=$OUT/facts.txt
: >"$FACTS"
fact() { echo "$1=$2" >>"$FACTS"; }
log() { echo "[bench] $*" >&2; }
die() { log "error: $*"; exit 1; }

# ---- children: everything started here is killed on exit ----
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop() { # stop one child we started, politely, then for sure
  local pid=$1 i
  kill "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

port_busy() { ss -Hlun "sport = :$1" 2>/dev/null | grep -q .; }
tcp_port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# ---- 1. tools ----
if [ "$MEMONLY" = 0 ] && ! command -v dnsperf >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing dnsperf"
    { apt-get install -y dnsperf || { apt-get update && apt-get install -y dnsperf; }; } >"$OUT/apt.log" 2>&1 ||
      die "apt-get install dnsperf failed, see $OUT/apt.log"
  else
    die "dnsperf is missing: install it (Debian/Ubuntu: sudo apt-get install -y dnsperf; Fedora: dnf install dnsperf), then rerun"
  fi
fi
for t in taskset ss node; do command -v $t >/dev/null || die "$t is missing"; done
[ -f "$CD_DIST/bin/clusterdns.js" ] || die "$CD_DIST/bin/clusterdns.js is missing: run npm run build (npm run bench does)"
CD_NODE=${CLUSTERDNS_NODE:-}
if [ -z "$CD_NODE" ] && [ "$WORKERS" -gt 1 ]; then
  log "-w $WORKERS: fetching Node 24 (npx -p node@24) for reusePort"
  CD_NODE=$(NODE_OPTIONS= timeout 300 npx -y -p node@24 node -p process.execPath) || die "could not get Node 24 through npx; set CLUSTERDNS_NODE"
fi
CD_NODE=${CD_NODE:-node}
for p in $CD_PORT $CEIL_PORT $PROG_PORT; do port_busy "$p" && die "UDP port $p is already in use (set CLUSTERDNS_PORT / CEILING_PORT / PROG_PORT)"; done
if [ "$MODE" = kubeadm ]; then
  port_busy "$UP_PORT" && die "UDP port $UP_PORT is already in use (set UPSTREAM_PORT)"
  for p in $HEALTH_PORT $READY_PORT $METRICS_PORT; do
    tcp_port_busy "$p" && die "TCP port $p is already in use (set HEALTH_PORT / READY_PORT / METRICS_PORT)"
  done
fi
[ "$(nproc)" -ge 2 ] || log "warning: fewer than 2 CPUs, server and client will share a core"

# ---- 2. cluster ----
GEN_HASH=$(sha1sum "$BENCH/gen-cluster.mjs" | cut -c1-10)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/clusterdns/bench/s$SERVICES-e$ENDPOINTS-$GEN_HASH
if [ ! -f "$CACHE/meta.json" ]; then
  log "generating $SERVICES services / $ENDPOINTS endpoints into $CACHE"
  rm -rf "$CACHE.tmp"
  node "$BENCH/gen-cluster.mjs" --services "$SERVICES" --endpoints "$ENDPOINTS" --out "$CACHE.tmp" >"$OUT/gen.log" ||
    die "gen-cluster failed, see $OUT/gen.log"
  rm -rf "$CACHE" && mv "$CACHE.tmp" "$CACHE"
fi
cp "$CACHE/meta.json" "$OUT/cluster-meta.json"
fact cluster_dir "$CACHE"
fact cluster_json_bytes "$(stat -c %s "$CACHE/cluster/cluster.json")"
PROBE_NAME=$(node -e 'const m=require(process.argv[1]); console.log(m.probe.name)' "$CACHE/meta.json")
PROBE_IP=$(node -e 'const m=require(process.argv[1]); console.log(m.probe.answer)' "$CACHE/meta.json")

# ---- machine ----
fact nproc "$(nproc)"
fact cpu_model "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
fact node_version "$(node --version)"
fact clusterdns_node_version "$("$CD_NODE" --version)"
fact workers "$WORKERS"
fact dnsperf_clients "$CLIENTS"
fact server_cpus "$SRV_CPU"
fact client_cpus "$CLI_CPU"
fact dnsperf_version "$(dpkg-query -W -f '${Version}' dnsperf 2>/dev/null || echo unknown)"
fact kernel "$(uname -r)"
fact mem_total_kb "$(awk '/MemTotal/{print $2}' /proc/meminfo)"
fact secs "$SECS"
fact rounds "$ROUNDS"
fact command "bench/run.sh $*"
fact corefile_mode "$MODE"
fact clusterdns_dist "$CD_DIST"
fact profiled_mix "$PROF_MIX"

# ---- helpers ----
sys_busy() { awk '/^cpu /{printf "%d %d", $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat; }
wait_quiet() { # the box is shared: wait (at most 5 s) for a 1 s window with < 15% of all CPUs busy
  local a b i
  for i in $(seq 5); do
    a=($(sys_busy)); sleep 1; b=($(sys_busy))
    awk -v db=$((b[0] - a[0])) -v di=$((b[1] - a[1])) 'BEGIN{exit !(db * 100 < 15 * (db + di))}' && return 0
  done
  log "warning: the machine is busy; numbers may be noisy"
  echo busy >>"$OUT/noisy.txt"
}
cpu_ticks() { awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$1/stat" 2>/dev/null || echo 0; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null; }

run_dnsperf() { # $1 label, $2 port, $3 query file, $4 server pid: dnsperf pinned to the client CPU, server CPU% recorded
  local label=$1 port=$2 qf=$3 spid=$4 c0 c1 t0 t1
  [ "${SKIP_QUIET:-0}" = 1 ] || wait_quiet
  # with -p, the profiler runs only while dnsperf does (bench/prof-hook.mjs toggles on SIGUSR2)
  [ -n "${PROF_PID:-}" ] && kill -USR2 "$PROF_PID"
  c0=$(cpu_ticks "$spid"); t0=$(date +%s%N)
  timeout $((SECS + 30)) taskset -c "$CLI_CPU" dnsperf -s 127.0.0.1 -p "$port" -d "$qf" -l "$SECS" -c "$CLIENTS" -q 100 \
    >"$OUT/dnsperf-$label.txt" 2>&1
  c1=$(cpu_ticks "$spid"); t1=$(date +%s%N)
  [ -n "${PROF_PID:-}" ] && kill -USR2 "$PROF_PID"
  # clock ticks are 1/100 s, so ticks per second of wall time is the percent of one core
  awk -v d=$((c1 - c0)) -v ns=$((t1 - t0)) 'BEGIN{printf "%.0f\n", d / (ns / 1e9)}' >"$OUT/cpu-$label.txt"
  log "$label: $(grep -m1 'Queries per second' "$OUT/dnsperf-$label.txt" | awk '{print $4}') QPS"
}

start_ceiling() {
  taskset -c "$SRV_CPU" node "$BENCH/responder.mjs" "$CEIL_PORT" >"$OUT/responder.log" 2>&1 &
  CEIL_PID=$!; PIDS+=("$CEIL_PID")
  local i
  for i in $(seq 100); do port_busy "$CEIL_PORT" && return 0; sleep 0.05; done
  die "the ceiling responder did not start"
}

run_ceiling() { # $1 label, $2 query file
  start_ceiling
  run_dnsperf "$1" "$CEIL_PORT" "$2" "$CEIL_PID"
  stop "$CEIL_PID"
}

write_corefile() { # $1 file, $2 port, $3 fixture path
  cat >"$1" <<EOF
.:$2 {
    bind 127.0.0.1
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        fixture $3
    }
}
EOF
}

# The kubeadm default Corefile (Corefile.example, test/support/kubeadm.ts) with only what a benchmark on loopback
# must change: the fixture instead of the API, loopback ports for DNS, health, ready and prometheus, and the bench
# upstream instead of /etc/resolv.conf. Every plugin and option of it is kept, lameduck included (so a stop takes 5 s).
write_corefile_kubeadm() { # $1 file, $2 port, $3 fixture path
  # Derived from Corefile.example itself, so the benchmark runs exactly what kube-system runs; each substitution
  # must match once, or the example changed and this needs a look.
  local want=7 got
  got=$(grep -cE '^\.:53 \{$|^    health \{$|^    ready$|^    kubernetes cluster\.local|^    prometheus :9153$|forward \. /etc/resolv\.conf|^    loadbalance$' "$ROOT/Corefile.example")
  [ "$got" = "$want" ] || die "Corefile.example no longer has the kubeadm lines the benchmark rewrites ($got of $want)"
  sed -E -e '/^#/d' \
    -e "s|^\.:53 \{$|.:$2 {\n    bind 127.0.0.1|" \
    -e "s|^    health \{$|    health 127.0.0.1:$HEALTH_PORT {|" \
    -e "s|^    ready$|    ready 127.0.0.1:$READY_PORT|" \
    -e "s|^(    kubernetes cluster\.local.*\{)$|\1\n       fixture $3|" \
    -e "s|^    prometheus :9153$|    prometheus 127.0.0.1:$METRICS_PORT|" \
    -e "s|forward \. /etc/resolv\.conf|forward . 127.0.0.1:$UP_PORT|" \
    "$ROOT/Corefile.example" >"$1"
}

# The bench upstream, on the client CPU: it is only busy while a pass fills the cache (and for cache misses).
start_upstream() {
  taskset -c "$CLI_CPU" node "$BENCH/upstream.mjs" "$CACHE/upstream.json" "$UP_PORT" >"$OUT/upstream.log" 2>&1 &
  UP_PID=$!; PIDS+=("$UP_PID")
  local i
  for i in $(seq 100); do port_busy "$UP_PORT" && return 0; sleep 0.05; done
  die "the bench upstream did not start"
}
upstream_queries() { # queries the upstream has received so far (it prints its counters on SIGUSR1)
  local before i
  before=$(grep -c '"queries"' "$OUT/upstream.log")
  kill -USR1 "$UP_PID"
  for i in $(seq 50); do [ "$(grep -c '"queries"' "$OUT/upstream.log")" -gt "$before" ] && break; sleep 0.02; done
  grep '"queries"' "$OUT/upstream.log" | tail -1 | sed -E 's/.*"queries":([0-9]+).*/\1/'
}

start_clusterdns() { # $1 corefile, $2 log, $3 port, $4 probe name, $5 probe ip; sets CD_PID, SYNC_MS; extra env via CD_NODE_ARGS
  local t0 t1
  t0=$(date +%s%3N)
  # taskset execs node, so $! is the node process itself (its /proc status is the server's).
  taskset -c "$SRV_CPU" "$CD_NODE" ${CD_NODE_ARGS:-} "$CD_DIST/bin/clusterdns.js" -conf "$1" -workers "$WORKERS" >"$2" 2>&1 &
  CD_PID=$!; PIDS+=("$CD_PID")
  t1=$(node "$BENCH/probe.mjs" wait "$3" "$4" A "$5" 180000) || { tail -5 "$2" >&2; die "clusterdns did not answer $4 within 180 s"; }
  if [ "$WORKERS" -gt 1 ]; then
    # The probe's one socket reaches one worker; the start-up lines come once every worker listens.
    local i
    for i in $(seq 1800); do grep -q "^\.:$3 on 127.0.0.1" "$2" && break; sleep 0.1; done
    grep -q "serving with $WORKERS workers" "$2" || { tail -5 "$2" >&2; die "clusterdns did not start $WORKERS workers"; }
    t1=$(date +%s%3N)
  fi
  SYNC_MS=$((t1 - t0))
  # CPU time (all threads, 1/100 s ticks) at the first answer: on a shared machine steadier than the wall clock
  SYNC_CPU_MS=$(($(cpu_ticks "$CD_PID") * 10))
  LOADED_MS=""
  local when
  when=$(grep -m1 '"msg":"fixture loaded"' "$2" | sed -E 's/.*"time":"([^"]+)".*/\1/')
  [ -n "$when" ] && LOADED_MS=$(($(date -d "$when" +%s%3N) - t0))
  return 0
}

# ---- 3. clusterdns on the big cluster ----
log "results in $OUT ($MODE Corefile)"
if [ "$MODE" = kubeadm ]; then
  [ -f "$CACHE/upstream.json" ] || die "$CACHE/upstream.json is missing (a cluster from an older gen-cluster.mjs?)"
  start_upstream
  write_corefile_kubeadm "$OUT/Corefile" "$CD_PORT" "$CACHE/cluster"
  fact forward_lines "$(wc -l <"$CACHE/queries/forward.txt")"
  [ "$SECS" -gt 25 ] && case " $MIXES " in *" forward "*)
    log "warning: -l $SECS: cache 30 entries stored by the pass before a forward run expire 30 s later, so the run will include cache misses" ;; esac
else
  write_corefile "$OUT/Corefile" "$CD_PORT" "$CACHE/cluster"
fi
# Several starts, as one start on a shared machine is easily disturbed; the last one serves the mixes.
for start in $(seq "$STARTS"); do
  log "starting clusterdns on $SERVICES services / $ENDPOINTS endpoints ($start/$STARTS)"
  wait_quiet
  start_clusterdns "$OUT/Corefile" "$OUT/clusterdns.log" "$CD_PORT" "$PROBE_NAME" "$PROBE_IP"
  sleep 1 # let the post-load garbage settle into what a steady server holds
  echo "$SYNC_MS ${LOADED_MS:-0} $(status_kb "$CD_PID" VmRSS) $(status_kb "$CD_PID" VmHWM) $SYNC_CPU_MS" >>"$OUT/starts.txt"
  log "synced: first answer after ${SYNC_MS} ms, RSS $(status_kb "$CD_PID" VmRSS) kB"
  [ "$start" -lt "$STARTS" ] && stop "$CD_PID"
done

# Forwarded names answered from cache: one unrecorded pass over the mix right before the run fills the cache (the
# quiet wait comes first, so the 30 s TTLs are not spent waiting), then the measured run; the queries the upstream
# received during the run are the cache misses. $1 label, $2 query file; PROF_PID passes through to run_dnsperf.
measure_forward() {
  local u0 u1
  wait_quiet
  timeout 60 taskset -c "$CLI_CPU" dnsperf -s 127.0.0.1 -p "$CD_PORT" -d "$2" -n 1 -c "$CLIENTS" -q 100 >"$OUT/fill-$1.txt" 2>&1
  u0=$(upstream_queries)
  SKIP_QUIET=1 run_dnsperf "$1" "$CD_PORT" "$2" "$CD_PID"
  u1=$(upstream_queries)
  echo "$u0 $u1" >"$OUT/upstream-$1.txt"
  log "$1: $((u1 - u0)) queries reached the upstream during the run (cache misses)"
}

# ---- 4. mixes, each right after a ceiling run with the same query file ----
# A short unrecorded warm-up first: right after the load V8 still collects the load's garbage and compiles the
# query path, which would otherwise all land on the first mix.
if [ -n "$MIXES" ]; then
  log "warm-up"
  timeout 60 taskset -c "$CLI_CPU" dnsperf -s 127.0.0.1 -p "$CD_PORT" -d "$CACHE/queries/clusterip-a.txt" -l 3 -c "$CLIENTS" -q 100 \
    >"$OUT/warmup.txt" 2>&1
fi
for r in $(seq "$ROUNDS"); do
  for mix in $MIXES; do
    qf=$CACHE/queries/$mix.txt
    [ -f "$qf" ] || { log "no query file for mix $mix, skipped"; continue; }
    run_ceiling "ceiling@$mix@$r" "$qf"
    if [ "$mix" = forward ]; then
      measure_forward "$mix@$r" "$qf"
    else
      run_dnsperf "$mix@$r" "$CD_PORT" "$qf" "$CD_PID"
    fi
  done
done
fact rss_after_load_kb "$(status_kb "$CD_PID" VmRSS)"
fact hwm_after_load_kb "$(status_kb "$CD_PID" VmHWM)"
stop "$CD_PID"

# ---- 5. profile ----
if [ "$PROFILE" = 1 ]; then
  log "profiling the $PROF_MIX mix"
  export BENCH_PROF_FILE=$OUT/$PROF_MIX.cpuprofile
  CD_NODE_ARGS="--import $BENCH/prof-hook.mjs" start_clusterdns "$OUT/Corefile" "$OUT/clusterdns-prof.log" "$CD_PORT" "$PROBE_NAME" "$PROBE_IP"
  if [ "$PROF_MIX" = forward ]; then
    PROF_PID=$CD_PID measure_forward "$PROF_MIX-profiled@1" "$CACHE/queries/forward.txt"
  else
    PROF_PID=$CD_PID run_dnsperf "$PROF_MIX-profiled@1" "$CD_PORT" "$CACHE/queries/$PROF_MIX.txt" "$CD_PID"
  fi
  for i in $(seq 100); do [ -s "$BENCH_PROF_FILE" ] && break; sleep 0.1; done
  sleep 0.5
  stop "$CD_PID"
  if [ -s "$BENCH_PROF_FILE" ]; then
    (cd "$ROOT" && node "$BENCH/profile-top.mjs" "$BENCH_PROF_FILE" 25) >"$OUT/profile-top.md"
  else
    log "warning: no profile written"
  fi
fi

# ---- 6. programming latency ----
if [ "$EDITS" -gt 0 ]; then
  log "programming latency: $EDITS EndpointSlice edits"
  node "$BENCH/probe.mjs" prog-fixture "$OUT/prog" >/dev/null
  write_corefile "$OUT/Corefile-prog" "$PROG_PORT" "$OUT/prog"
  start_clusterdns "$OUT/Corefile-prog" "$OUT/clusterdns-prog.log" "$PROG_PORT" prog.bench.svc.cluster.local 10.250.0.1
  node "$BENCH/probe.mjs" prog "$PROG_PORT" "$OUT/prog" "$EDITS" >"$OUT/prog.json" || log "warning: some edits were never seen"
  stop "$CD_PID"
fi
if [ "$BIG_EDITS" -gt 0 ]; then
  log "programming latency beside the big cluster: $BIG_EDITS edits"
  node "$BENCH/probe.mjs" prog-fixture "$OUT/prog-big" >/dev/null
  ln -sf "$CACHE/cluster/cluster.json" "$OUT/prog-big/cluster.json"
  write_corefile "$OUT/Corefile-prog-big" "$PROG_PORT" "$OUT/prog-big"
  start_clusterdns "$OUT/Corefile-prog-big" "$OUT/clusterdns-prog-big.log" "$PROG_PORT" prog.bench.svc.cluster.local 10.250.0.1
  PROBE_EDIT_TIMEOUT_MS=60000 node "$BENCH/probe.mjs" prog "$PROG_PORT" "$OUT/prog-big" "$BIG_EDITS" >"$OUT/prog-big.json" ||
    log "warning: some edits were never seen"
  fact hwm_prog_big_kb "$(status_kb "$CD_PID" VmHWM)"
  stop "$CD_PID"
fi

# ---- 7. report ----
node "$BENCH/report.mjs" "$OUT" | tee "$OUT/report.md"
