#!/usr/bin/env bash
# Runs every benchmark and prints, for each pair of sub-benchmarks named
# .../ours and .../baseline, the ratio of their throughput (see
# internal/benchratio). Usage: scripts/bench.sh [benchtime]
set -euo pipefail
cd "$(dirname "$0")/.."
t="${1:-1s}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
go test -run '^$' -bench . -benchmem -benchtime "$t" -timeout 30m ./... | tee "$out"
echo
echo "== ratios (ours vs baseline, same data, same run)"
go run ./internal/benchratio < "$out"
