#!/bin/sh
# End-to-end CLI benchmark (issue 10): the `wiretape` binary against the lz4 command on the
# same frames file, run as pairs (A B A B ...) so that machine drift cancels in each pair's
# ratio. Prints each figure's median wall time and the median of the per-pair speed ratios
# (reference time / our time: >= 1.0 means faster than lz4).
#   tools/bench-journal/cli.sh [--mb 100] [--runs 7] [--no-build]
# Goals: import --format frames >= 1.0 of `lz4 -1 -B6`; cat --format raw >= 0.8 of `lz4 -d -c`;
# size >= 1.02 of lz4 -1 -B6's compression ratio (lz4 bytes / journal bytes).
# The corpus and every output go under /tmp; the release build uses .build-release.
set -eu
cd "$(dirname "$0")/../.."
MB=100; RUNS=7; BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --mb) MB="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v lz4 >/dev/null || { echo "needs the lz4 command (apt-get install lz4)" >&2; exit 1; }
W=/tmp/bench-journal-cli-$MB
mkdir -p "$W"
[ -f "$W/c.frames" ] || python3 ../shared/corpus/gen_corpus.py --mb "$MB" --snapshots 0 --out "$W/c" >/dev/null
if [ "$BUILD" = 1 ]; then
  out=$(flock /tmp/wiretape-swift.lock swift build -c release --scratch-path .build-release --product wiretape 2>&1) || { echo "$out"; exit 1; }
fi
BIN=$(pwd)/.build-release/release/wiretape
lz4 -q -1 -B6 -f "$W/c.frames" "$W/c.frames.lz4"
rm -rf "$W/j"; "$BIN" import "$W/j" --format frames "$W/c.frames" 2>/dev/null

python3 - "$BIN" "$W" "$RUNS" <<'PY'
import os, subprocess, sys, time, statistics, shutil
bin_, w, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
def run(cmd, prep=None):
    if prep: prep()
    t = time.perf_counter()
    subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t
def rm_j2(): shutil.rmtree(w + "/j2", ignore_errors=True)
def rm_lz(): 
    try: os.remove(w + "/o.lz4")
    except FileNotFoundError: pass
pairs = [
  ("append: import --format frames", f"{bin_} import {w}/j2 --format frames {w}/c.frames", rm_j2,
   f"lz4 -q -1 -B6 -f {w}/c.frames {w}/o.lz4", rm_lz, "lz4 -1 -B6", 1.0),
  ("read: cat --format raw", f"{bin_} cat {w}/j --format raw > /dev/null", None,
   f"lz4 -d -c {w}/c.frames.lz4 > /dev/null", None, "lz4 -d -c", 0.8),
  ("read: cat --format jsonl", f"{bin_} cat {w}/j --format jsonl > /dev/null", None,
   f"lz4 -d -c {w}/c.frames.lz4 > /dev/null", None, "lz4 -d -c", None),
]
for name, a, pa, b, pb, ref, goal in pairs:
    run(a, pa); run(b, pb)  # warm-up
    ta, tb, r = [], [], []
    for _ in range(runs):
        x = run(a, pa); y = run(b, pb)
        ta.append(x); tb.append(y); r.append(y / x)
    med = statistics.median(r)
    g = "" if goal is None else f"  goal >= {goal}: {'met' if med >= goal else 'NOT met'}"
    print(f"{name:34} {statistics.median(ta)*1000:7.1f} ms   {ref:11} {statistics.median(tb)*1000:7.1f} ms   "
          f"speed ratio median {med:.3f} (min {min(r):.3f}, max {max(r):.3f}, {runs} pairs){g}")
def size(d): return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f != "writer.lock")
js, ls = size(w + '/j'), os.path.getsize(w + '/c.frames.lz4')
print(f"size: journal {js} bytes (segments + index), lz4 -1 -B6 {ls} bytes: ratio {ls / js:.4f} of lz4's  goal >= 1.02: {'met' if ls / js >= 1.02 else 'NOT met'}")
PY
