#!/usr/bin/env bash
# Inbound throughput over loopback: WireTapeNIO vs Python `websockets` as clients of the same
# server in the same run, printed as a ratio. The server (blast_server.py) writes
# pre-encoded frames with large sendall() calls; its ceiling is measured in the same run by a
# raw socket reader, so the report shows the server is not the bottleneck.
#   tools/bench-inbound/run.sh [--mb 40] [--runs 3]
set -euo pipefail
cd "$(dirname "$0")/../.."
mb=40; runs=3
while [ $# -gt 0 ]; do case "$1" in --mb) mb=$2; shift 2;; --runs) runs=$2; shift 2;; *) echo "unknown $1"; exit 64;; esac; done
tools/setup.sh
py=.venv/bin/python
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
# The benchmark corpus generator lives beside the repository (../shared/corpus).
python3 ../shared/corpus/gen_corpus.py --mb "$mb" --snapshots 0 --out "$work/corpus" >/dev/null
# A failed build fails the run (never benchmark a stale binary).
out=$(swift build -c release --product wiretape-bench-inbound 2>&1) || { echo "$out" | tail -30; echo "bench-inbound: the build failed"; exit 1; }
bin=$(swift build -c release --show-bin-path)/wiretape-bench-inbound

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

scenario() { # name, server args...
  local name=$1; shift
  "$py" -u tools/bench-inbound/blast_server.py "$@" > "$work/server.out" &
  local server=$!
  for _ in $(seq 50); do grep -q PORT "$work/server.out" && break; sleep 0.1; done
  local port; port=$(awk '{print $2}' "$work/server.out")
  local frames; frames=$(awk '{print $4}' "$work/server.out")
  local wt=() pyr=() raw=() res=()
  for _ in $(seq "$runs"); do
    raw+=("$("$py" tools/bench-inbound/clients.py raw 127.0.0.1 "$port")")
    wt+=("$("$bin" "ws://127.0.0.1:$port/")")
    res+=("$("$bin" "ws://127.0.0.1:$port/" --resilient "$frames" | tail -1)")
    pyr+=("$("$py" tools/bench-inbound/clients.py websockets "ws://127.0.0.1:$port/")")
  done
  kill $server; wait $server 2>/dev/null || true
  python3 - "$name" "$(printf '%s;' "${wt[@]}")" "$(printf '%s;' "${pyr[@]}")" "$(printf '%s;' "${raw[@]}")" "$(printf '%s;' "${res[@]}")" <<'PY'
import sys, statistics
name, wt, py, raw, res = sys.argv[1], *[[list(map(float, r.split())) for r in a.split(";") if r] for a in sys.argv[2:]]
def rates(rs):
    fps = statistics.median(r[0] / r[2] for r in rs)
    mbs = statistics.median(r[1] / r[2] / 1e6 for r in rs)
    return fps, mbs, rs[0][0]
wf, wm, n = rates(wt); pf, pm, _ = rates(py); rf, rmb, _ = rates(res)
rm = statistics.median(r[1] / r[2] / 1e6 for r in raw)
print(f"{name}: {int(n)} frames per run, median of {len(wt)} runs")
print(f"  WireTapeNIO       {wf:12,.0f} frames/s {wm:9,.1f} MB/s")
print(f"  Python websockets {pf:12,.0f} frames/s {pm:9,.1f} MB/s")
print(f"  Resilient (ReconnectingConnector over WireTapeNIO) {rf:,.0f} frames/s {rmb:,.1f} MB/s")
print(f"  ratio WireTapeNIO / Python: {wf / pf:.2f}x frames/s")
print(f"  ratio Resilient / bare WireTapeNIO: {rf / wf:.2f}")
print(f"  server ceiling (raw socket reader, no parsing): {rm:,.0f} MB/s = {rm / max(wm, 1e-9):.1f}x what WireTapeNIO consumed")
PY
}

scenario "text ~300 B (corpus, --snapshots 0)" --payloads "$work/corpus.jsonl" --repeat 1
scenario "binary 64 KiB" --binary-size 65536 --count 2000 --repeat 1
