#!/usr/bin/env python3
"""Cuts outages into a frames file (u32 LE length | u64 LE time ns | payload) for the report
benchmark: writes OUT/part-K.frames (the frames between outages) and OUT/life-K.jsonl (the
lifecycle and connect records of outage K, without seq so `import` numbers them), so that
importing life-0, part-0, life-1, part-1, ... in order yields a journal with known outages.

Usage: split_outages.py FRAMES OUTDIR [--outages 40]
"""
import argparse, json, os, struct

ap = argparse.ArgumentParser()
ap.add_argument("frames")
ap.add_argument("out")
ap.add_argument("--outages", type=int, default=40)
a = ap.parse_args()
os.makedirs(a.out, exist_ok=True)

def frames(path):
    with open(path, "rb", buffering=1 << 20) as f:
        while True:
            h = f.read(12)
            if len(h) < 12:
                return
            n, t = struct.unpack("<IQ", h)
            yield h, t, f.read(n)

first = last = None
for h, t, p in frames(a.frames):
    if first is None:
        first = t
    last = t
span = last - first
causes = [
    dict(state="reconnecting", close_code=1001, close_reason="server restart", closed_by="peer"),
    dict(state="reconnecting", error="livenessTimeout", message="no data for 30 s and no pong"),
    dict(state="reconnecting", close_code=1006, error="connectionLost", message="connection reset by peer"),
]
outs = []
for k in range(a.outages):
    t0 = first + span * (k + 1) // (a.outages + 1)
    dur = span // (a.outages * 20) * (1 + k % 3)
    outs.append((t0, t0 + dur, causes[k % 3]))

def life(k, t0, t1, cause, epoch):
    recs = []
    if k == 0:
        recs.append(dict(type="session", epoch=0, wall_ns=first - 3000, mono_ns=first - 3000, phase="start", url="wss://bench.test/ws?key=SECRET"))
        recs.append(dict(type="lifecycle", epoch=0, wall_ns=first - 2000, mono_ns=first - 2000, state="connecting"))
        recs.append(dict(type="lifecycle", epoch=1, wall_ns=first - 1000, mono_ns=first - 1000, state="connected"))
        return recs
    e = dict(type="lifecycle", epoch=epoch, wall_ns=t0, mono_ns=t0, total_lagged=0, total_lagged_bytes=0, reconnects=epoch - 1, failed_attempts=0)
    e.update(cause)
    recs.append(e)
    mid = (t0 + t1) // 2
    recs.append(dict(type="connect", epoch=epoch, wall_ns=mid, mono_ns=mid, outcome="failed", http_status=503, error="handshakeRejected", message="HTTP 503"))
    recs.append(dict(type="lifecycle", epoch=epoch + 1, wall_ns=t1, mono_ns=t1, state="connected"))
    return recs

k = 0
epoch = 1
lf = open(os.path.join(a.out, "life-0.jsonl"), "w")
for r in life(0, 0, 0, None, 0):
    lf.write(json.dumps(r) + "\n")
lf.close()
pf = open(os.path.join(a.out, "part-0.frames"), "wb", buffering=1 << 20)
for h, t, p in frames(a.frames):
    while k < len(outs) and t >= outs[k][0]:
        pf.close()
        t0, t1, cause = outs[k]
        with open(os.path.join(a.out, "life-%d.jsonl" % (k + 1)), "w") as lf:
            for r in life(k + 1, t0, t1, cause, epoch):
                lf.write(json.dumps(r) + "\n")
        epoch += 1
        k += 1
        pf = open(os.path.join(a.out, "part-%d.frames" % k), "wb", buffering=1 << 20)
    if k > 0 and t < outs[k - 1][1]:
        continue  # inside the outage: not received
    pf.write(h)
    pf.write(p)
pf.close()
print("span_s=%.1f outages=%d" % (span / 1e9, len(outs)))
