#!/usr/bin/env python3
"""A WebSocket server built to never be the bottleneck of an inbound-throughput benchmark.

It answers the upgrade handshake itself, then writes a pre-encoded blob of server frames
(unmasked, so nothing is computed per frame) with large sendall() calls, REPEAT times, and
closes with 1000. Listens on 127.0.0.1, port 0; prints "PORT <n>" first.

  blast_server.py --payloads FILE.jsonl [--repeat R]      text frames, one per line of FILE
  blast_server.py --binary-size 65536 --count N [--repeat R]  binary frames of N bytes
"""
import argparse, base64, hashlib, socket, struct, sys, threading

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(opcode, payload):
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--payloads")
    ap.add_argument("--binary-size", type=int, default=0)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    if a.payloads:
        with open(a.payloads, "rb") as f:
            payloads = [line.rstrip(b"\n") for line in f if line.strip()]
        blob = b"".join(frame(1, p) for p in payloads)
        frames = len(payloads)
    else:
        payload = bytes(i % 251 for i in range(a.binary_size))
        blob = frame(2, payload) * a.count
        frames = a.count
    payload_bytes = (sum(len(p) for p in payloads) if a.payloads else a.binary_size * a.count)
    close = frame(8, struct.pack("!H", 1000))

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    print(f"PORT {srv.getsockname()[1]} FRAMES {frames * a.repeat} BYTES {payload_bytes * a.repeat}", flush=True)

    def serve(conn):
        try:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
            req = b""
            while b"\r\n\r\n" not in req:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                req += chunk
            head = req.split(b"\r\n\r\n", 1)[0].decode("latin-1")
            if head.startswith("GET /raw"):
                # Raw mode: no handshake, just the bytes (measures what the server can push).
                pass
            else:
                key = next(l.split(":", 1)[1].strip() for l in head.split("\r\n")
                           if l.lower().startswith("sec-websocket-key:"))
                accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
                conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                              f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n").encode())
            view = memoryview(blob)
            for _ in range(a.repeat):
                conn.sendall(view)
            conn.sendall(close)
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(65536):
                pass
        except OSError:
            pass
        finally:
            conn.close()

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
