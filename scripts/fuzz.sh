#!/usr/bin/env bash
# Runs every fuzz target in the module for a bounded time each.
# Usage: scripts/fuzz.sh [duration]   (default 10s)
set -euo pipefail
cd "$(dirname "$0")/.."
t="${1:-10s}"
fail=0
while IFS= read -r line; do
  file="${line%%:*}"; name="${line#*:}"
  dir="./$(dirname "$file")"
  echo "== fuzz $dir $name ($t)"
  # -fuzzminimizetime 0: a bounded run that ends while the engine is still
  # minimising a new input reports "context deadline exceeded" as a failure;
  # a real failing input is still reported and written to testdata.
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$t" -fuzzminimizetime 0 "$dir"; then
    echo "FAIL: $dir $name"; fail=1
  fi
done < <(grep -rHoE --include='*_test.go' '^func (Fuzz[A-Za-z0-9_]+)' . | sed -E 's/^\.\///; s/:func /:/' | sort -u)
exit $fail
