#!/bin/sh
# Journal benchmark (release build, own scratch path). Generates the corpus in /tmp.
#   tools/bench-journal/run.sh [--mb 200] [--snapshots 0]
set -eu
cd "$(dirname "$0")/../.."
MB=200; EXTRA=""
while [ $# -gt 0 ]; do
  case "$1" in
    --mb) MB="$2"; shift 2 ;;
    --snapshots) EXTRA="--snapshots $2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
CORPUS=/tmp/bench-journal-corpus-$MB
[ -f "$CORPUS.frames" ] || python3 ../shared/corpus/gen_corpus.py --mb "$MB" $EXTRA --out "$CORPUS"
out=$(swift build -c release --scratch-path .build-release --product bench-journal 2>&1) || { echo "$out"; exit 1; }
exec .build-release/release/bench-journal all "$CORPUS.frames" /tmp/bench-journal-scratch-$$
