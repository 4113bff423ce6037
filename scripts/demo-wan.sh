#!/usr/bin/env bash
# demo-wan.sh — make demo-wan: the JSON log across a real toxiproxy link
# (30 ms RTT, 100 Mbit/s) with Pegasus's discipline and with the fast path,
# every key verified, the speed-up printed (integration TestDemoWAN).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh toxiproxy
DUPBRIDGE_DEMO_WAN=1 go test -count=1 -run '^TestDemoWAN$' -v -timeout 5m ./integration
