#!/bin/sh
# Replay benchmark (release build, own scratch path). Generates the corpus in /tmp and imports it.
#   tools/bench-replay/run.sh [--mb 100]      (--mb 1000: the issue's 1 GB for the cold seek)
set -eu
cd "$(dirname "$0")/../.."
MB=100
while [ $# -gt 0 ]; do
  case "$1" in
    --mb) MB="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
CORPUS=/tmp/bench-replay-corpus-$MB
JOURNAL=/tmp/bench-replay-journal-$MB
[ -f "$CORPUS.frames" ] || python3 ../shared/corpus/gen_corpus.py --mb "$MB" --snapshots 0 --out "$CORPUS"
out=$(swift build -c release --scratch-path .build-release --product bench-replay 2>&1) || { echo "$out"; exit 1; }
out=$(swift build -c release --scratch-path .build-release --product wiretape 2>&1) || { echo "$out"; exit 1; }
[ -d "$JOURNAL" ] || .build-release/release/wiretape import "$JOURNAL" "$CORPUS.frames" --format frames
.build-release/release/bench-replay "$JOURNAL"
echo "replay --speed max --format raw vs cat --format raw (same journal, /usr/bin/time):"
/usr/bin/time -f "  replay: %e s wall, %U s user" .build-release/release/wiretape replay "$JOURNAL" --speed max --format raw > /dev/null
/usr/bin/time -f "  cat:    %e s wall, %U s user" .build-release/release/wiretape cat "$JOURNAL" --format raw > /dev/null
/usr/bin/time -f "  replay (JSON lines): %e s wall, %U s user" .build-release/release/wiretape replay "$JOURNAL" --speed max > /dev/null
/usr/bin/time -f "  cat --format jsonl:  %e s wall, %U s user" .build-release/release/wiretape cat "$JOURNAL" --format jsonl > /dev/null
.build-release/release/bench-replay "$JOURNAL" --seek-only 1
