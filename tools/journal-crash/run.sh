#!/bin/sh
# Crash test for the journal: SIGKILL a writer at random moments, check after each kill.
#   tools/journal-crash/run.sh --short        # CI: 40 kills (~20 s plus the build)
#   tools/journal-crash/run.sh --long         # 1000 kills
#   tools/journal-crash/run.sh --iterations N --seed S
# Fails (never PASS) when no kill landed after the writer had written a block: such a run
# measured nothing about durability.
set -eu
cd "$(dirname "$0")/../.."
ARGS=""
case "${1:-}" in
  --short) ARGS="--iterations 40"; shift ;;
  --long) ARGS="--iterations 1000"; shift ;;
esac
out=$(swift build --product journal-crash 2>&1) || { echo "$out"; echo "journal-crash: FAIL: the harness did not build"; exit 1; }
exec "$(swift build --show-bin-path)/journal-crash" run $ARGS "$@"
