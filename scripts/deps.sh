#!/usr/bin/env bash
# deps.sh — installs what the tests, demos and benchmarks need beyond Go, by name.
# Usage: bash scripts/deps.sh NAME...   (names: zookeeper prometheus rocksdb chromium toxiproxy systemd)
# Every name is idempotent: a tool already on the machine is not installed again.
# apt runs under a lock so that parallel test packages never fight over dpkg.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tools="$root/.tools"   # binaries built from the Go module proxy (git-ignored)

apt_install() { # apt_install CHECK_CMD PKG...
  local check=$1; shift
  command -v "$check" >/dev/null 2>&1 && return 0
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  exec 9>/tmp/dupbridge-apt.lock
  flock 9
  if ! command -v "$check" >/dev/null 2>&1; then
    if [ ! -f /tmp/dupbridge-apt-updated ]; then
      $sudo apt-get update -qq >&2 && touch /tmp/dupbridge-apt-updated
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >&2
  fi
  flock -u 9
}

for name in "$@"; do
  case $name in
    zookeeper)
      # zookeeperd brings the server jars; tests start their own instance, never the system service.
      [ -f /usr/share/zookeeper/bin/zkServer.sh ] || { apt_install __none__ zookeeperd; }
      # the Debian service would hold port 2181; tests never use it.
      (systemctl disable --now zookeeper >/dev/null 2>&1 || service zookeeper stop >/dev/null 2>&1 || true)
      ;;
    prometheus) apt_install promtool prometheus
      (systemctl disable --now prometheus prometheus-node-exporter >/dev/null 2>&1 || true) ;;
    rocksdb) apt_install sst_dump rocksdb-tools ;;
    chromium) apt_install chromium chromium ;;
    # systemd-analyze verify and systemd-sysusers --root work without a
    # running systemd (the deploy tests check the unit with them).
    systemd) apt_install systemd-analyze systemd ;;
    toxiproxy)
      if [ ! -x "$tools/toxiproxy-server" ]; then
        exec 8>/tmp/dupbridge-toxiproxy.lock; flock 8
        [ -x "$tools/toxiproxy-server" ] || GOBIN="$tools" GOFLAGS=-mod=mod \
          go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0 >&2
        [ -x "$tools/server" ] && mv "$tools/server" "$tools/toxiproxy-server"
        flock -u 8
      fi ;;
    *) echo "deps.sh: unknown dependency '$name'" >&2; exit 2 ;;
  esac
done
