#!/usr/bin/env bash
# StreamGate side-by-side benchmark on loopback: direct vs streamgate vs nginx (stream) vs haproxy (mode tcp).
#
#   bench/run.sh                        # full run: 3 rounds, all targets and workloads (~6-8 min on 2 cores)
#   bench/run.sh --quick                # smoke run: 1 round, short durations
#   bench/run.sh --rounds 5 --only streamgate,nginx --workloads rps,cps
#   bench/run.sh --help                 # all flags
#
# Before/after a change in one run (issue 6): keep a copy of the earlier build's whole output folder, then
#   cp -a artifacts/bin/StreamGate/release /tmp/sg-base      # before the change (the apphost needs its dlls)
#   ... change src/, then:
#   bench/run.sh --baseline-bin /tmp/sg-base/streamgate      # builds the current tree as `streamgate`
# --baseline-bin PATH adds the target `streamgate-base`: same config and flags as `streamgate`, run with the
# executable PATH (never built), in every workload and interleaved in every round; the report adds its ratios
# to nginx/haproxy and "SG/SG-base" (this build ÷ baseline). `--only` accepts streamgate-base.
#
# Builds StreamGate (dotnet build -c Release) unless --no-build; a target whose binary/tool is missing is
# skipped with a message. Results: stdout and bench/results/latest.md (+ latest.json). See docs/benchmarks.md.
#
# Needs root for the sysctls below (optional: failures only warn); they are restored on exit.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
cd "$ROOT"

for arg in "$@"; do
  if [[ $arg == -h || $arg == --help ]]; then exec python3 "$HERE/bench.py" --help; fi
done

# The peers, backends and load generators come from Debian; install what a fresh machine lacks.
packages=(iperf3 redis-server redis-tools nginx libnginx-mod-stream haproxy)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "[run.sh] installing ${missing[*]}" >&2
  sudo_cmd=""; [[ "$(id -u)" -eq 0 ]] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null \
    || echo "[run.sh] warning: could not install ${missing[*]}; targets needing them are skipped" >&2
fi

STATE="$(mktemp -d /tmp/streamgate-bench.XXXXXX)"
export BENCH_STATE="$STATE"

orig_tw="$(sysctl -n net.ipv4.tcp_tw_reuse 2>/dev/null || true)"
orig_range="$(sysctl -n net.ipv4.ip_local_port_range 2>/dev/null | tr -s '[:space:]' ' ' || true)"

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # bench.py stops what it started; this is the safety net if it was killed hard.
  # Each line of $STATE/pids is "<pid> <starttime>"; only kill a process group whose leader is still that process.
  if [[ -f "$STATE/pids" ]]; then
    while read -r pid start; do
      if [[ -r /proc/$pid/stat ]]; then
        cur="$(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $20}')"
        if [[ "$cur" == "$start" ]]; then
          kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        fi
      fi
    done < "$STATE/pids"
  fi
  [[ -n "$orig_tw" ]] && sysctl -qw net.ipv4.tcp_tw_reuse="$orig_tw" >/dev/null 2>&1
  [[ -n "$orig_range" ]] && sysctl -qw net.ipv4.ip_local_port_range="${orig_range% }" >/dev/null 2>&1
  rm -rf "$STATE"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Many sockets: 10k idle connections through a proxy = 20k fds in the proxy. Take what the hard limit allows.
ulimit -n 100000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "[run.sh] open files limit: $(ulimit -n)" >&2

# New-connection workload: ~80k short connections per round toward one backend port; TIME_WAIT reuse and a
# wide ephemeral range avoid EADDRNOTAVAIL. Listen ports are taken below 10240 (bench.py --port-base 7100).
sysctl -qw net.ipv4.tcp_tw_reuse=1 >/dev/null 2>&1 || echo "[run.sh] warning: cannot set net.ipv4.tcp_tw_reuse=1; continuing" >&2
sysctl -qw net.ipv4.ip_local_port_range="10240 65000" >/dev/null 2>&1 || echo "[run.sh] warning: cannot widen net.ipv4.ip_local_port_range; continuing" >&2

python3 "$HERE/bench.py" "$@" &
child=$!
trap 'kill -TERM $child 2>/dev/null; wait $child; exit 130' INT TERM
wait "$child"
exit $?
