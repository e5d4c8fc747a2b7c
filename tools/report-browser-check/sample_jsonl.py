#!/usr/bin/env python3
"""Writes a JSON-lines journal (journal-format/SPEC.md section 9) with known outages, for
`wiretape import DIR FILE` and the report's browser check.

Usage: sample_jsonl.py [--minutes 30] [--rate 20] [--start-ns N] [--lifecycle-only] > sample.jsonl

The feed sends `rate` inbound frames per second (Binance-style trades with consecutive ids
`t`, and one outbound subscribe per epoch). Outages (every one with a known cause):
  1. at 20% of the span, 12 s: peer close 1001 "server restart", two failed attempts (HTTP 503)
  2. at 45%, 40 s: liveness timeout (stale first), then connectionRefused twice
  3. at 70%, 5 s: connectionLost (1006), reconnect at the first attempt
A journal-lag marker, two annotations, one hostile payload (</script><img onerror=...>)
and a trade-id gap of 5 in the last epoch are included. With --lifecycle-only no frames are
written (for adding outages to a journal imported from a frames file: its wall times are
taken from --start-ns and --minutes).
"""
import argparse, json

ap = argparse.ArgumentParser()
ap.add_argument("--minutes", type=float, default=30)
ap.add_argument("--rate", type=float, default=20)
ap.add_argument("--start-ns", type=int, default=1_764_640_000_000_000_000)
ap.add_argument("--lifecycle-only", action="store_true")
ap.add_argument("--seq-start", type=int, default=None, help="first seq (appending to a journal)")
a = ap.parse_args()

S = 0  # offsets in ns (floats are exact to the ns below 2**53); a.start_ns is added on output
span = int(a.minutes * 60e9)
out = []
def rec(t, **kw):
    kw["wall_ns"] = a.start_ns + int(round(t))
    kw["mono_ns"] = int(round(t)) + 1_000_000
    out.append((int(t), len(out), kw))

outages = [  # (start fraction, duration s, edges)
    (0.20, 12.0, "close"), (0.45, 40.0, "liveness"), (0.70, 5.0, "lost")]
epoch = 0
rec(S, type="session", epoch=0, phase="start", url="wss://stream.example.test/ws?streams=btcusdt@trade&apikey=SECRET123")
rec(S + 1e6, type="lifecycle", epoch=0, state="connecting")
rec(S + 2e6, type="connect", epoch=0, outcome="attempt", url="wss://stream.example.test/ws")
rec(S + 3e6, type="connect", epoch=0, outcome="connected", http_status=101)
epoch = 1
rec(S + 4e6, type="lifecycle", epoch=1, state="connected")
down = []
for frac, dur, kind in outages:
    t0 = S + frac * span
    t1 = t0 + dur * 1e9
    down.append((t0, t1))
    e = epoch
    if kind == "close":
        rec(t0, type="lifecycle", epoch=e, state="reconnecting", close_code=1001, close_reason="server restart", closed_by="peer",
            total_lagged=0, total_lagged_bytes=0, reconnects=e - 1, failed_attempts=0)
        for k in range(2):
            rec(t0 + (k + 1) * 3e9, type="connect", epoch=e, outcome="attempt")
            rec(t0 + (k + 1) * 3e9 + 5e6, type="connect", epoch=e, outcome="failed", http_status=503, error="handshakeRejected", message="HTTP 503 Service Unavailable")
    elif kind == "liveness":
        rec(t0 - 10e9, type="lifecycle", epoch=e, state="stale")
        rec(t0, type="lifecycle", epoch=e, state="reconnecting", error="livenessTimeout", message="no data for 30 s and no pong",
            total_lagged=17, total_lagged_bytes=5100, reconnects=e - 1, failed_attempts=2)
        for k in range(2):
            rec(t0 + (k + 1) * 10e9, type="connect", epoch=e, outcome="attempt")
            rec(t0 + (k + 1) * 10e9 + 1e6, type="connect", epoch=e, outcome="failed", error="connectionRefused", message="connection refused")
    else:
        rec(t0, type="lifecycle", epoch=e, state="reconnecting", close_code=1006, error="connectionLost", message="connection reset by peer",
            total_lagged=17, total_lagged_bytes=5100, reconnects=e - 1, failed_attempts=4)
    rec(t1 - 2e6, type="connect", epoch=e, outcome="attempt")
    rec(t1 - 1e6, type="connect", epoch=e, outcome="connected", http_status=101)
    epoch += 1
    rec(t1, type="lifecycle", epoch=epoch, state="connected")
    rec(t1 + 1e6, type="frame", epoch=epoch, dir="out", opcode="text", data='{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":%d}' % epoch)

rec(S + 0.30 * span, type="annotation", epoch=2, text="deploy 4.2.1 (adapter)")
rec(S + 0.60 * span, type="annotation", epoch=3, text='venue maintenance announced <b>bold?</b> & "quotes"')
rec(S + 0.55 * span, type="lag", epoch=3, count=42, bytes=12600)

if not a.lifecycle_only:
    n = int(a.minutes * 60 * a.rate)
    tid = 1000
    ep = 1
    bounds = [(t0, t1) for t0, t1 in down]
    hostile_at = S + 0.20 * span - 0.12e9  # among the last frames before outage 1
    gap_at = S + 0.85 * span
    hostile_done = gap_done = False
    for i in range(n):
        t = S + 5e6 + i * (1e9 / a.rate)
        if any(t0 <= t < t1 for t0, t1 in bounds):
            continue
        ep = 1 + sum(1 for t0, t1 in bounds if t >= t1)
        if not hostile_done and t >= hostile_at:
            hostile_done = True
            rec(t, type="frame", epoch=ep, dir="in", opcode="text",
                data='{"e":"trade","t":%d,"note":"</script><img src=x onerror=alert(1)>https://evil.example/x.js"}' % tid)
            tid += 1
            continue
        if not gap_done and t >= gap_at:
            gap_done = True
            tid += 5
        rec(t, type="frame", epoch=ep, dir="in", opcode="text",
            data='{"e":"trade","E":%d,"s":"BTCUSDT","t":%d,"p":"64000.%02d","q":"0.010"}' % (int(t // 1_000_000), tid, i % 100))
        tid += 1

rec(S + span, type="lifecycle", epoch=epoch, state="closed", close_code=1000, close_reason="recorder stopped", closed_by="local")
rec(S + span + 1e6, type="session", epoch=epoch, phase="end", message="stopped")
out.sort(key=lambda r: (r[0], r[1]))
seq = a.seq_start or 1
for _, _, kw in out:
    kw = dict(kw)
    kw["seq"] = seq
    seq += 1
    print(json.dumps(kw, separators=(",", ":")))
