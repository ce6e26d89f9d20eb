#!/usr/bin/env bash
# Runs the whole StreamGate test suite (unit + integration) on a fresh Debian machine.
# Installs the real servers and clients the integration tests drive, then builds and tests in Release.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use: redis-server and redis-cli behind/through the gateway; dnsmasq, the DNS
# server the resolver's tests start on a loopback port (their own, never the system's); openssl and curl, whose
# real ClientHellos the TLS parser's tests capture.
packages=(redis-server redis-tools dnsmasq openssl curl)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing ${missing[*]} ..."
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
  # The package starts a system redis on 6379; the tests start their own on free ports. dnsmasq's package may
  # start a system daemon on port 53 where an init system runs; the tests do not need it, so it is stopped.
  if [[ " ${missing[*]} " == *" dnsmasq "* ]] && command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet dnsmasq 2>/dev/null; then
    $sudo_cmd systemctl disable --now dnsmasq >/dev/null 2>&1 || true
  fi
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build StreamGate.slnx -c Release -nologo -clp:ErrorsOnly

log=$(mktemp)
status=0
dotnet test StreamGate.slnx -c Release --no-build -nologo 2>&1 | tee "$log" || status=$?

# One closing line in the plain form CI reads: "N passed, N failed".
sum() { grep -oE "$1: +[0-9]+" "$log" | awk '{ n += $2 } END { print n + 0 }'; }
passed=$(sum Passed)
failed=$(sum Failed)
rm -f "$log"
echo "$passed passed, $failed failed"
exit $status
