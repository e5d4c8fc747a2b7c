"""A websockets client for `wiretape serve` tests: connects, sends {"op":"sub"}, reads until the end,
prints one JSON line per connection (frames and close code, or the refusal's HTTP status), reconnects at
once, and stops after a 410.

    serve_client.py URL
"""
import base64, json, sys
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

url = sys.argv[1]
for attempt in range(20):
    event = {"attempt": attempt + 1}
    try:
        with connect(url, open_timeout=30) as ws:
            ws.send('{"op":"sub"}')
            frames = []
            try:
                while True:
                    m = ws.recv()
                    frames.append(m if isinstance(m, str) else "b64:" + base64.b64encode(m).decode())
            except ConnectionClosed as e:
                event["frames"] = frames
                event["close"] = e.rcvd.code if e.rcvd else 1006
                event["reason"] = e.rcvd.reason if e.rcvd else ""
    except InvalidStatus as e:
        event["status"] = e.response.status_code
        event["retry_after"] = e.response.headers.get("Retry-After")
    print(json.dumps(event), flush=True)
    if event.get("status") == 410:
        break
