#!/bin/bash
# Runs Complement (the Matrix conformance suite, fetched outside this
# repository) against Myelin and prints the top-level results per package.
#
#   scripts/complement.sh PATH_TO_COMPLEMENT [REGEX]
#   COMPLEMENT_SKIP=REGEX scripts/complement.sh ...   (go test -skip)
#
# It builds the image (make complement-image), then runs
#   go test -count=1 -json -timeout 90m ./tests ./tests/csapi [-run REGEX]
# in the Complement checkout, keeping the JSON log in complement-results.json
# (in the current directory), and prints pass / fail / skip counts and the
# failing tests.
set -euo pipefail
if [ $# -lt 1 ]; then
	echo "usage: $0 PATH_TO_COMPLEMENT [REGEX]" >&2
	exit 2
fi
complement="$(cd "$1" && pwd)"
regex="${2:-}"
here="$(cd "$(dirname "$0")/.." && pwd)"
out="$(pwd)/complement-results.json"

bash "$here/build/complement/build.sh" complement-myelin:latest

args=(-count=1 -json -timeout 90m)
if [ -n "$regex" ]; then
	args+=(-run "$regex")
fi
# COMPLEMENT_SKIP: a -skip regex, for tests that abort their whole package
# (a test that fails from a goroutine after it has ended panics the test
# binary, and every test after it in that package goes unrun).
if [ -n "${COMPLEMENT_SKIP:-}" ]; then
	args+=(-skip "$COMPLEMENT_SKIP")
fi
(cd "$complement" && COMPLEMENT_BASE_IMAGE=complement-myelin:latest go test "${args[@]}" ./tests ./tests/csapi >"$out" 2>&1) || true

# Top-level tests only: a test name without "/".
summary() {
	grep -o '"Action":"\(pass\|fail\|skip\)","Package":"[^"]*","Test":"[^"/]*"' "$out" |
		sed 's/"Action":"\([a-z]*\)","Package":"[^"]*\/\([^"/]*\)","Test":"\([^"]*\)"/\2 \1 \3/' | sort -u
}
echo "results (package: pass / fail / skip), log in $out"
summary | awk '{c[$1" "$2]++; p[$1]=1} END {for (k in p) printf "  %s: %d / %d / %d\n", k, c[k" pass"], c[k" fail"], c[k" skip"]}'
echo "failed:"
summary | awk '$2 == "fail" {print "  " $1 " " $3}'
