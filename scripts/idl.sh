#!/usr/bin/env bash
# idl.sh generate | check
#
# generate: regenerate idl/gen/ from idl/*.thrift with thrift-compiler 0.17.
# check:    generate into a temp dir and fail if it differs from the committed
#           idl/gen/ (stale or hand-edited generated code).
#
# idl/base.thrift declares rDSN's special types (wire.md §3). Its Go code is
# never generated: package idl/base is hand-written, and the generated
# packages import it (package_prefix + "base"). So only the other .thrift
# files are compiled, each without -r.
set -euo pipefail

MODE="${1:-}"
case "$MODE" in
generate | check) ;;
*)
	echo "usage: $0 generate|check" >&2
	exit 2
	;;
esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

WANT_VERSION="0.17.0"
PREFIX="github.com/dupbridge/dupbridge/idl/"
GEN_OPTS="go:package_prefix=${PREFIX},thrift_import=github.com/apache/thrift/lib/go/thrift,skip_remote"
# Compiled files; base.thrift is deliberately absent (see above).
SOURCES=(meta.thrift rrdb.thrift checkpoint.thrift)

ensure_compiler() {
	if ! command -v thrift >/dev/null 2>&1; then
		echo "idl.sh: thrift-compiler not found; installing it with apt-get" >&2
		if ! command -v apt-get >/dev/null 2>&1; then
			echo "idl.sh: apt-get is not available; install thrift-compiler ${WANT_VERSION} (Debian package thrift-compiler) by hand" >&2
			exit 1
		fi
		SUDO=""
		if [ "$(id -u)" != 0 ]; then
			if command -v sudo >/dev/null 2>&1; then
				SUDO="sudo"
			else
				echo "idl.sh: need root (or sudo) to apt-get install thrift-compiler" >&2
				exit 1
			fi
		fi
		if ! { $SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y thrift-compiler; }; then
			echo "idl.sh: apt-get install thrift-compiler failed; install thrift-compiler ${WANT_VERSION} by hand" >&2
			exit 1
		fi
		if ! command -v thrift >/dev/null 2>&1; then
			echo "idl.sh: thrift-compiler installed but 'thrift' is not on PATH" >&2
			exit 1
		fi
	fi
	local v
	v="$(thrift --version | awk '{print $3}')"
	if [ "$v" != "$WANT_VERSION" ]; then
		echo "idl.sh: thrift ${v} found, ${WANT_VERSION} required (go.mod pins apache/thrift v${WANT_VERSION})" >&2
		exit 1
	fi
}

# gen OUTDIR: compile every source into OUTDIR/gen/<pkg>/.
gen() {
	local out="$1"
	mkdir -p "$out"
	for f in "${SOURCES[@]}"; do
		thrift --gen "$GEN_OPTS" -out "$out" "idl/$f"
	done
}

ensure_compiler

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
gen "$TMP"

case "$MODE" in
generate)
	rm -rf idl/gen
	cp -r "$TMP/gen" idl/gen
	echo "idl.sh: regenerated idl/gen"
	;;
check)
	if ! diff -r -u idl/gen "$TMP/gen" >"$TMP/diff.txt" 2>&1; then
		head -n 100 "$TMP/diff.txt" >&2
		echo "idl.sh: idl/gen is stale or hand-edited; run 'make idl' and commit the result" >&2
		exit 1
	fi
	echo "idl.sh: idl/gen is up to date"
	;;
esac
