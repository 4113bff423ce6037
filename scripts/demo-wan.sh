#!/usr/bin/env bash
# demo-wan.sh — make demo-wan: a simulated follower, a sink beside it, an
# edge on the master side and a real toxiproxy link (30 ms RTT, 100 Mbit/s)
# between edge and sink; the JSON log is replayed through the edge, every
# key verified, and the speed-up over Pegasus's discipline across the same
# link printed (integration TestDemoWAN). Under 2 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh toxiproxy
DUPBRIDGE_DEMO_WAN=1 go test -count=1 -run '^TestDemoWAN$' -v -timeout 5m ./integration
