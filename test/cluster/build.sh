#!/usr/bin/env bash
# Builds kube-apiserver, etcd and kubectl from Go modules for the real-apiserver test suite
# (test/cluster/*.cluster.ts). Binaries are cached outside the repo, keyed by version:
#   ~/.cache/clusterdns/bin/kube-apiserver-<k8s ver>, kubectl-<k8s ver>, etcd-<etcd ver>
# A binary that already exists is not rebuilt, so a second run costs a few seconds.
#
# Why from modules: no prebuilt binaries or Docker here, and Debian bookworm's etcd-server (3.4.23) is older than
# kube-apiserver 1.36 supports (watches with initial events fail). See /work/shared/reference/real-apiserver.md.
#
# Usage: test/cluster/build.sh [--regen] [--no-kubectl]
#   --regen       rewrite apiserver-module/go.mod and go.sum from scratch (after changing K8S_VERSION)
#   --no-kubectl  skip kubectl (the suite uses the API directly when kubectl is absent)
# Environment: CLUSTERDNS_CACHE (default ~/.cache/clusterdns), GO (default: go on PATH, else /usr/local/go/bin/go),
#   BUILD_PARALLEL (go build -p, default 2).
# Exit codes: 0 built or cached; 3 Go is missing (caller prints "skipped"); other: build failure (log path printed).
set -euo pipefail

K8S_VERSION=v1.36.4          # newest 1.36 patch whose go.mod verifies against sum.golang.org through this proxy
STAGING_VERSION=v0.${K8S_VERSION#v1.}
# etcd: the version k8s pins in its go.mod (go.etcd.io/etcd/server/v3); read from the module below.

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MODDIR=$HERE/apiserver-module
CACHE=${CLUSTERDNS_CACHE:-$HOME/.cache/clusterdns}
BIN=$CACHE/bin
LOGDIR=$CACHE/logs
REGEN=0; KUBECTL=1
for a in "$@"; do
  case $a in
    --regen) REGEN=1 ;;
    --no-kubectl) KUBECTL=0 ;;
    *) echo "unknown argument: $a" >&2; exit 2 ;;
  esac
done

GO=${GO:-$(command -v go || true)}
[ -z "$GO" ] && [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go
if [ -z "$GO" ]; then echo "build.sh: Go toolchain not found" >&2; exit 3; fi

export GOTOOLCHAIN=local                       # never download another toolchain behind our back
export CGO_ENABLED=0
export GOFLAGS="-modcacherw -buildvcs=false"
export GOMODCACHE=$CACHE/gomod GOCACHE=$CACHE/gobuild GOTMPDIR=$CACHE/tmp
mkdir -p "$BIN" "$LOGDIR" "$GOMODCACHE" "$GOCACHE" "$GOTMPDIR"
cd "$MODDIR"

# --- the wrapper module -------------------------------------------------------------------------------------------
# k8s.io/kubernetes requires its staging modules at v0.0.0 (its own replace lines are ignored when it is a
# dependency), so every one of them is replaced by the published tag v0.N.P. The list is read from the release's go.mod.
if [ "$REGEN" = 1 ] || ! grep -q "k8s.io/kubernetes $K8S_VERSION" go.mod 2>/dev/null; then
  echo "== generating apiserver-module/go.mod for $K8S_VERSION"
  rm -f go.mod go.sum
  "$GO" mod init clusterdns.invalid/apiserver-module >/dev/null 2>&1
  "$GO" mod edit -go=1.26.0 -godebug=default=go1.26
  KMOD=$("$GO" mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  for m in $(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' "$KMOD"); do
    "$GO" mod edit -replace="$m=$m@$STAGING_VERSION"
  done
  ETCD=$(awk '$1 == "go.etcd.io/etcd/server/v3" {print $2}' "$KMOD")
  # `tool` lines keep the requirements (and go.sum entries) for exactly the packages we build.
  "$GO" get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION"
  "$GO" get -tool "k8s.io/kubernetes/cmd/kubectl@$K8S_VERSION"
  "$GO" get -tool "go.etcd.io/etcd/server/v3@$ETCD"   # pinned to k8s's own version so nothing shared moves
fi
ETCD_VERSION=$("$GO" list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
echo "kubernetes $K8S_VERSION, etcd $ETCD_VERSION, $("$GO" version)"

LDV="-X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1"
LDV="$LDV -X k8s.io/component-base/version.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
LDV="$LDV -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitTreeState=clean"

TIME=()
[ -x /usr/bin/time ] && TIME=(/usr/bin/time -v)

# build NAME OUTPUT PACKAGE LDFLAGS
build() {
  local name=$1 out=$2 pkg=$3 ld=$4 log=$LOGDIR/build-$(basename "$2").log
  if [ -x "$out" ]; then echo "cached: $out"; return 0; fi
  echo "== building $name -> $out (log: $log)"
  local t0=$SECONDS
  # nice + -p keep the 2-core machine usable; -s -w cut link time and memory (no DWARF); -mod=readonly keeps the
  # committed go.mod/go.sum authoritative.
  if ! nice -n 10 "${TIME[@]}" "$GO" build -mod=readonly -p "${BUILD_PARALLEL:-2}" -trimpath -pgo=off \
      -ldflags="-s -w $ld" -o "$out.tmp" "$pkg" >"$log" 2>&1; then
    echo "build of $name FAILED after $((SECONDS - t0)) s; last lines of $log:" >&2
    tail -30 "$log" >&2
    rm -f "$out.tmp"
    return 1
  fi
  mv "$out.tmp" "$out"
  local rss; rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log")
  echo "built $name in $((SECONDS - t0)) s${rss:+, peak RSS $((rss / 1024)) MiB}"
  echo "$(date -u +%FT%TZ) $name $((SECONDS - t0))s peakRSS=${rss:-?}KiB" >>"$LOGDIR/build-times.txt"
}

build "etcd $ETCD_VERSION" "$BIN/etcd-$ETCD_VERSION" go.etcd.io/etcd/server/v3 ""
build "kube-apiserver $K8S_VERSION" "$BIN/kube-apiserver-$K8S_VERSION" k8s.io/kubernetes/cmd/kube-apiserver "$LDV"
if [ "$KUBECTL" = 1 ]; then
  build "kubectl $K8S_VERSION" "$BIN/kubectl-$K8S_VERSION" k8s.io/kubernetes/cmd/kubectl "$LDV"
fi
# A small env file so start scripts and the suite find the binaries without repeating the versions.
cat >"$BIN/versions.env" <<ENV
K8S_VERSION=$K8S_VERSION
ETCD_VERSION=$ETCD_VERSION
KUBE_APISERVER=$BIN/kube-apiserver-$K8S_VERSION
ETCD=$BIN/etcd-$ETCD_VERSION
KUBECTL=$([ -x "$BIN/kubectl-$K8S_VERSION" ] && echo "$BIN/kubectl-$K8S_VERSION")
ENV
echo "binaries in $BIN ($(du -sh "$CACHE" | cut -f1) in $CACHE)"
