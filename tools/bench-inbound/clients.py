#!/usr/bin/env python3
"""Reference clients for the inbound benchmark: Python `websockets`, and a raw socket
reader that measures how fast the server can push bytes (the server's ceiling).

  clients.py websockets URL     prints: frames bytes seconds
  clients.py raw HOST PORT      prints: 0 bytes seconds   (reads until EOF, no parsing)
"""
import asyncio, socket, sys, time


async def ws_client(url):
    from websockets.asyncio.client import connect
    frames = nbytes = 0
    start = time.perf_counter()
    async with connect(url, max_size=None, compression=None, ping_interval=None) as ws:
        try:
            async for message in ws:
                frames += 1
                nbytes += len(message)
        except Exception:
            pass
    print(frames, nbytes, time.perf_counter() - start)


def raw_client(host, port):
    s = socket.create_connection((host, int(port)))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    start = time.perf_counter()
    s.sendall(b"GET /raw HTTP/1.1\r\n\r\n")
    buf = bytearray(1 << 20)
    n = 0
    while True:
        k = s.recv_into(buf)
        if not k:
            break
        n += k
        if buf[k - 4:k] == b"\x88\x02\x03\xe8":
            break
    print(0, n, time.perf_counter() - start)


if __name__ == "__main__":
    if sys.argv[1] == "websockets":
        asyncio.run(ws_client(sys.argv[2]))
    else:
        raw_client(sys.argv[2], sys.argv[3])
