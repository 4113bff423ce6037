#!/usr/bin/env bash
# bench-wan.sh — the WAN benchmark (integration BenchmarkWAN): the JSON log
# (>= 200,000 writes over 8 master partitions, generated once and cached
# under the temp dir) across a real toxiproxy link at 30 ms RTT and
# 100 Mbit/s, for each path the issue compares. Installs toxiproxy first.
# Usage: scripts/bench-wan.sh   (DUPBRIDGE_WAN_WRITES=N for another log size)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh toxiproxy
DUPBRIDGE_BENCH_WAN=1 go test -run '^$' -bench '^BenchmarkWAN$' -benchtime 1x -timeout 60m ./integration
