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
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$t" "$dir"; then
    echo "FAIL: $dir $name"; fail=1
  fi
done < <(grep -rHoE --include='*_test.go' '^func (Fuzz[A-Za-z0-9_]+)' . | sed -E 's/^\.\///; s/:func /:/' | sort -u)
exit $fail
