#!/usr/bin/env bash
# Recording benchmarks, release build:
#  1. live-path cost per frame, recording on vs off (wiretape-bench-record, p50/p99 ns);
#  2. the same fast loopback feed (tools/bench-inbound/blast_server.py, 300-byte text frames)
#     received by `wiretape record`, `wiretape tap > /dev/null` and picows (PyPI) doing
#     nothing but receiving: wall seconds, frames/s and peak RSS per run, medians, ratios.
#
#   tools/bench-record/run.sh [--frames 300000] [--runs 5]
# Needs: a release build in .build-release (swift build -c release --scratch-path .build-release),
# Python with `websockets` ($WIRETAPE_PYTHON or .venv), picows in $PICOWS_PYTHON
# (python3 -m venv /tmp/picows-venv && /tmp/picows-venv/bin/pip install picows), GNU time.
set -euo pipefail
cd "$(dirname "$0")/../.."
frames=300000; runs=5
while [ $# -gt 0 ]; do case "$1" in --frames) frames=$2; shift 2;; --runs) runs=$2; shift 2;; *) echo "unknown $1"; exit 64;; esac; done
py=${WIRETAPE_PYTHON:-.venv/bin/python}
picows=${PICOWS_PYTHON:-/tmp/picows-venv/bin/python}
bin=.build-release/release
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

echo "== 1. live path"
"$bin/wiretape-bench-record" --frames "$frames" --rate 100000 --journal "$work/live"

echo "== 2. whole commands on one loopback feed of $frames 300-byte text frames"
python3 - "$frames" > "$work/payloads.jsonl" <<'PY'
import sys, random
r = random.Random(7)
for i in range(int(sys.argv[1])):
    s = f'{{"e":"trade","E":{1700000000000 + i},"s":"BTCUSDT","t":{i},"p":"{r.uniform(60000, 70000):.2f}","q":"{r.random():.6f}","b":{r.randrange(10**9)},"a":{r.randrange(10**9)},"m":{str(r.random() < .5).lower()}'
    print(s + ',"x":"' + "z" * max(0, 298 - len(s) - 7) + '"}')
PY
"$py" -u tools/bench-inbound/blast_server.py --payloads "$work/payloads.jsonl" > "$work/server.out" &
for _ in $(seq 50); do grep -q PORT "$work/server.out" && break; sleep 0.1; done
url="ws://127.0.0.1:$(awk '{print $2}' "$work/server.out")/"

timed() { # label, command... : appends "label seconds maxrss_kb" to results
  local label=$1; shift
  /usr/bin/time -f "$label %e %M" -a -o "$work/results" "$@"
}
for i in $(seq "$runs"); do
  rm -rf "$work/j"
  timed record "$bin/wiretape" record "$url" --journal "$work/j" --count "$frames" --quiet
  timed tap sh -c "exec $bin/wiretape tap '$url' > /dev/null"
  timed picows "$picows" tools/bench-record/picows_client.py "$url" > /dev/null
done
"$bin/wiretape" info "$work/j" | grep -E "records|size"
python3 - "$frames" "$work/results" <<'PY'
import sys, statistics
frames = int(sys.argv[1])
rows = [l.split() for l in open(sys.argv[2]) if l.strip() and not l.startswith("Command")]
by = {}
for label, secs, rss in rows:
    by.setdefault(label, []).append((float(secs), int(rss)))
med = {k: statistics.median(s for s, _ in v) for k, v in by.items()}
for k, v in by.items():
    print(f"  {k:7} median {med[k]:.3f} s  {frames / med[k]:12,.0f} frames/s  peak RSS {max(r for _, r in v) / 1024:.1f} MiB  ({len(v)} runs)")
print(f"  record / tap throughput:    {med['tap'] / med['record']:.2f}")
print(f"  record / picows throughput: {med['picows'] / med['record']:.2f}")
PY
