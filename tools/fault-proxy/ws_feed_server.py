#!/usr/bin/env python3
"""A small WebSocket feed server for fault-matrix tests (needs the `websockets` package).

    .venv/bin/python tools/fault-proxy/ws_feed_server.py

Listens on 127.0.0.1, port 0, and prints the port on its first stdout line. Each connection
gets a numbered stream of text messages `"<n>"` every `interval` seconds (query `?interval=0.05`,
default 0.05), and every message the client sends is echoed back prefixed with `echo:`.
`?big=BYTES` sends one binary message of that size first (for slow-link liveness tests).
Pings are answered automatically by `websockets`. It runs until stdin closes.
"""

import asyncio
import sys
from urllib.parse import parse_qs, urlparse

from websockets.asyncio.server import serve


async def handler(ws):
    query = parse_qs(urlparse(ws.request.path).query)
    interval = float(query.get("interval", ["0.05"])[0])
    big = int(query.get("big", ["0"])[0])

    async def feed():
        if big:
            await ws.send(b"\x07" * big)
        n = 0
        while True:
            n += 1
            await ws.send(str(n))
            await asyncio.sleep(interval)

    async def echo():
        async for message in ws:
            await ws.send("echo:" + (message if isinstance(message, str) else message.decode("latin-1")))

    tasks = [asyncio.create_task(feed()), asyncio.create_task(echo())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()


async def main():
    async with serve(handler, "127.0.0.1", 0, max_size=None, ping_interval=None) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while await reader.readline():
            pass


if __name__ == "__main__":
    asyncio.run(main())
