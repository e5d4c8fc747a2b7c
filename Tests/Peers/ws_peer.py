#!/usr/bin/env python3
"""A scriptable WebSocket peer for WireTape's integration tests and benchmarks.

Runs Python's `websockets` server on 127.0.0.1, port 0 (or --port), optionally with TLS,
and prints `PORT <n>` as its first stdout line. The request path picks the behaviour:

  /echo                      echo every message back
  /text?n=N                  send N text messages "msg-<i>", then close 1000
  /binary?size=S             send one binary message of S bytes (byte i = i % 251), close 1000
  /fragmented?parts=P        send one text message in P fragments, then close 1000
  /big?size=S                send one text message of S bytes ('x' * S), then close 1000
  /ping?payload=P            send a ping with payload P, wait for the pong, send "pong-ok:<P>", close 1000
  /close?code=C&reason=R     close with code C and reason R right away
  /drop                      drop the TCP connection without a close frame
  /headers                   send the request headers as one JSON text message, close 1000
  /subprotocol               send the negotiated subprotocol as text, close 1000
  /status/<code>             refuse the upgrade with HTTP <code> (503 adds Retry-After: 7; echo=1 echoes
                             the request target and headers in the body)
  /slow?n=N                  send N messages, one per 10 ms, then close 1000
  /flood?n=N&size=S          send N text messages of S bytes as fast as possible, close 1000
                             (numbered=1: messages "f-<i>-xxx..."; hold=1: stay open afterwards)
  /pingflood?n=N             send N pings (payloads "p<i>") at once, then "sent", then stay open
  /corpus?file=F&repeat=R    send every line of F (R times) as text, then close 1000
  /venue?script=S&log=F&n=N  a venue with outages, one step of S (comma-separated) per connection
                             attempt to this path: `close1011` / `abort` / `hold` open a session that
                             waits for one client message (if wait=1), sends N messages
                             "s<session>-m<i>", then closes 1011 / aborts the TCP connection / stays
                             open until the client closes; `503` refuses the upgrade with
                             Retry-After: 1. With quiet=SECONDS, a session then stays silent (but
                             answers pings) that long and sends N more "s<session>-q<i>". Appends "open <s>", "recv <s> <msg>", "sent <s> <msg>",
                             "closed <s> <code>" lines to F (steps past the end repeat the last).
"""
import argparse, asyncio, json, ssl, sys
from http import HTTPStatus
from urllib.parse import urlparse, parse_qs

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


def query(ws):
    u = urlparse(ws.request.path)
    return u.path, {k: v[0] for k, v in parse_qs(u.query, keep_blank_values=True).items()}


VENUE_ATTEMPTS = {}


def venue_log(q, line):
    if "log" in q:
        with open(q["log"], "a") as f:
            f.write(line + "\n")


def process_request(connection, request):
    path = urlparse(request.path).path
    if path == "/venue":
        q = {k: v[0] for k, v in parse_qs(urlparse(request.path).query, keep_blank_values=True).items()}
        steps = q.get("script", "hold").split(",")
        n = VENUE_ATTEMPTS.get(q.get("log", ""), 0)
        VENUE_ATTEMPTS[q.get("log", "")] = n + 1
        step = steps[min(n, len(steps) - 1)]
        connection.venue_step = step
        if step == "503":
            venue_log(q, f"refused {n} 503")
            response = connection.respond(HTTPStatus(503), "try again\n")
            response.headers["Retry-After"] = "1"
            return response
        # Sessions are numbered by the attempts that were accepted.
        connection.venue_session = sum(1 for s in steps[:n] if s != "503") if n < len(steps) else \
            sum(1 for s in steps if s != "503") + (n - len(steps))
    if path.startswith("/status/"):
        code = int(path.rsplit("/", 1)[1])
        body = f"refused with {code}\n"
        if "echo=1" in request.path:  # a careless server that echoes the request in its error page
            body += request.path + " " + " ".join(f"{k}: {v}" for k, v in request.headers.raw_items()) + "\n"
        response = connection.respond(HTTPStatus(code), body)
        if code in (429, 503):
            response.headers["Retry-After"] = "7"
        return response
    return None


def select_subprotocol(connection, subprotocols):
    return subprotocols[0] if subprotocols else None


async def handler(ws):
    path, q = query(ws)
    try:
        if path == "/echo":
            async for message in ws:
                await ws.send(message)
        elif path == "/text":
            for i in range(int(q.get("n", "3"))):
                await ws.send(f"msg-{i}")
            await ws.close(1000, "done")
        elif path == "/binary":
            size = int(q.get("size", "1024"))
            await ws.send(bytes(i % 251 for i in range(size)))
            await ws.close(1000, "done")
        elif path == "/fragmented":
            parts = int(q.get("parts", "3"))
            await ws.send([f"part{i}-" for i in range(parts)])
            await ws.close(1000, "done")
        elif path == "/big":
            await ws.send("x" * int(q.get("size", "1048576")))
            await ws.close(1000, "done")
        elif path == "/ping":
            payload = q.get("payload", "hello").encode()
            waiter = await ws.ping(payload)
            await asyncio.wait_for(waiter, 5)
            await ws.send("pong-ok:" + payload.decode())
            await ws.close(1000, "done")
        elif path == "/close":
            await ws.close(int(q.get("code", "1000")), q.get("reason", ""))
        elif path == "/drop":
            await ws.send("before-drop")
            await asyncio.sleep(0.2)  # let the frame reach the client before the reset discards it
            ws.transport.abort()
        elif path == "/headers":
            await ws.send(json.dumps({k.lower(): v for k, v in ws.request.headers.raw_items()}))
            await ws.close(1000, "done")
        elif path == "/subprotocol":
            await ws.send(str(ws.subprotocol))
            await ws.close(1000, "done")
        elif path == "/slow":
            for i in range(int(q.get("n", "10"))):
                await ws.send(f"slow-{i}")
                await asyncio.sleep(0.01)
            await ws.close(1000, "done")
        elif path == "/flood":
            size = int(q.get("size", "300"))
            n = int(q.get("n", "1000"))
            numbered = q.get("numbered") == "1"
            for i in range(n):
                await ws.send(f"f-{i}-".ljust(size, "x") if numbered else "f" * size)
            if q.get("hold") == "1":
                await ws.wait_closed()
            else:
                await ws.close(1000, "done")
        elif path == "/pingflood":
            for i in range(int(q.get("n", "100"))):
                await ws.ping(f"p{i}".encode())
            await ws.send("sent")
            await ws.wait_closed()
        elif path == "/venue":
            step, session = ws.venue_step, ws.venue_session
            venue_log(q, f"open {session}")
            if q.get("wait") == "1":
                msg = await ws.recv()
                venue_log(q, f"recv {session} {msg}")
            for i in range(int(q.get("n", "5"))):
                m = f"s{session}-m{i}"
                await ws.send(m)
                venue_log(q, f"sent {session} {m}")
            if "quiet" in q:
                await asyncio.sleep(float(q["quiet"]))  # silent but alive: pings are answered
                for i in range(int(q.get("n", "5"))):
                    m = f"s{session}-q{i}"
                    await ws.send(m)
                    venue_log(q, f"sent {session} {m}")
            if step == "close1011":
                await ws.close(1011, "venue restart")
            elif step == "abort":
                await asyncio.sleep(0.2)  # let the frames reach the client before the reset
                ws.transport.abort()
            else:
                try:
                    async for msg in ws:
                        venue_log(q, f"recv {session} {msg}")
                except ConnectionClosed:
                    pass
            await ws.wait_closed()
            rcvd = ws.protocol.close_rcvd.code if ws.protocol.close_rcvd else "none"
            venue_log(q, f"closed {session} {rcvd}")
        elif path == "/corpus":
            with open(q["file"], "rb") as f:
                lines = [l.rstrip(b"\n").decode() for l in f]
            for _ in range(int(q.get("repeat", "1"))):
                for line in lines:
                    await ws.send(line)
            await ws.close(1000, "done")
        else:
            await ws.close(1008, f"unknown path {path}")
    except ConnectionClosed:
        pass


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    a = ap.parse_args()
    ctx = None
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
    async with serve(handler, "127.0.0.1", a.port, ssl=ctx, max_size=None, compression=None,
                     process_request=process_request, select_subprotocol=select_subprotocol,
                     ping_interval=None, write_limit=1 << 20, open_timeout=60) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
