#!/usr/bin/env bash
# Render time and page size of `wiretape report` on a large journal (by hand, not in CI).
# Generates the shared corpus (about 3.3 M frames per GB), cuts 40 outages into it
# (split_outages.py), imports lifecycle JSON lines and frame parts in order, then times
# `report`, `stats --bucket 1s` and `continuity`.
#
# Usage: tools/report-browser-check/bench_large.sh [MB=3000] [WORKDIR=/tmp/wtbench] [WIRETAPE]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mb="${1:-3000}"
work="${2:-/tmp/wtbench}"
W="${3:-$root/.build/debug/wiretape}"
corpus="${CORPUS_GEN:-$root/../shared/corpus/gen_corpus.py}"
[ -f "$corpus" ] || corpus=/work/shared/corpus/gen_corpus.py
mkdir -p "$work"
cd "$work"
[ -f c.frames ] || python3 "$corpus" --mb "$mb" --snapshots 0 --out "$work/c"
rm -f c.jsonl
python3 "$here/split_outages.py" c.frames parts --outages 40
rm -rf j
n=$(ls parts/life-*.jsonl | wc -l)
for k in $(seq 0 $((n - 1))); do
  "$W" import j "parts/life-$k.jsonl" 2>/dev/null
  [ -f "parts/part-$k.frames" ] && "$W" import j "parts/part-$k.frames" --format frames 2>/dev/null
done
"$W" info j | head -6
for i in 1 2 3; do /usr/bin/time -f "report: %e s, %M KB max RSS" "$W" report j --out report.html; done
ls -l report.html
/usr/bin/time -f "stats --bucket 1s: %e s" "$W" stats j --bucket 1s > /dev/null
/usr/bin/time -f "continuity (every frame): %e s" "$W" continuity j --seq-field data.u --first-field data.U --where data.e=depthUpdate --key data.s --max-issues 3
