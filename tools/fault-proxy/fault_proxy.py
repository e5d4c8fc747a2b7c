#!/usr/bin/env python3
"""fault-proxy: a fault-injecting TCP proxy for testing WebSocket clients.

It listens on 127.0.0.1 only, on a port chosen by the kernel (port 0), and forwards every
connection to an upstream server (--upstream HOST:PORT). Faults can be switched at runtime,
mid-connection:

    reset                  reset every open connection (TCP RST), now
    blackhole on|off       accept bytes in both directions but deliver none
    latency MS             deliver each chunk MS milliseconds after it was read (0 = off)
    bandwidth BPS|off      limit each direction of each connection to BPS bytes/second
    slice N|off            write in pieces of 1..N bytes (random sizes), each flushed on its own
    close-after N|off      close a connection after N bytes went server -> client
    refuse on|off|SECONDS  stop listening (connects get ECONNREFUSED), for SECONDS if given
    respond off|STATUS [Name: value]...
                           answer new connections' HTTP upgrade with STATUS (and headers)
                           instead of proxying; e.g. `respond 503 Retry-After: 2`
    clear                  switch every fault off
    status                 one line of counters
    quit                   stop the proxy

Commands are read line by line from stdin and from a control socket (TCP, 127.0.0.1, port 0).
Each command is answered with one line starting with `ok` or `err`.

Stdout: line 1 is the data port (a bare number); line 2 is `control PORT`.
Without --upstream the proxy only answers handshakes (start it with --respond STATUS).

Stdlib only; Python 3.9+.
"""

import argparse
import asyncio
import random
import socket
import struct
import sys
import time


class Faults:
    def __init__(self):
        self.clear()

    def clear(self):
        self.blackhole = False
        self.latency = 0.0
        self.bandwidth = None
        self.slice = None
        self.close_after = None
        self.respond = None  # (status, [(name, value)])

    def describe(self):
        return (
            f"blackhole={'on' if self.blackhole else 'off'} latency_ms={int(self.latency * 1000)} "
            f"bandwidth={self.bandwidth or 'off'} slice={self.slice or 'off'} "
            f"close_after={self.close_after if self.close_after is not None else 'off'} "
            f"respond={self.respond[0] if self.respond else 'off'}"
        )


REASONS = {
    101: "Switching Protocols", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
    404: "Not Found", 408: "Request Timeout", 426: "Upgrade Required", 429: "Too Many Requests",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout",
}


class Conn:
    def __init__(self, cid, client_writer):
        self.id = cid
        self.client_writer = client_writer
        self.upstream_writer = None
        self.down_bytes = 0  # server -> client, delivered
        self.up_bytes = 0    # client -> server, delivered
        self.closed = False

    def writers(self):
        return [w for w in (self.client_writer, self.upstream_writer) if w is not None]

    def reset(self):
        """Abort both sides with RST (SO_LINGER 0)."""
        self.closed = True
        for w in self.writers():
            sock = w.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
            w.transport.abort()

    def close(self):
        self.closed = True
        for w in self.writers():
            try:
                w.close()
            except Exception:
                pass


class Proxy:
    def __init__(self, upstream, faults):
        self.upstream = upstream
        self.faults = faults
        self.conns = {}
        self.next_id = 0
        self.server = None
        self.port = None
        self.refuse_until = None  # None: listening; float('inf') or a deadline: refusing
        self.stats = {"accepted": 0, "refused_periods": 0, "resets": 0, "responded": 0,
                      "up_bytes": 0, "down_bytes": 0, "blackholed_bytes": 0, "upstream_failures": 0}
        self.stop = asyncio.Event()

    async def listen(self):
        self.server = await asyncio.start_server(
            self.handle, host="127.0.0.1", port=self.port or 0, reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop_listening(self):
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    async def refuse(self, seconds):
        if self.refuse_until is None:
            self.stats["refused_periods"] += 1
            await self.stop_listening()
        self.refuse_until = float("inf") if seconds is None else time.monotonic() + seconds
        if seconds is not None:
            asyncio.get_running_loop().create_task(self._resume_after(seconds, self.refuse_until))

    async def _resume_after(self, seconds, token):
        await asyncio.sleep(seconds)
        if self.refuse_until == token:
            await self.accept_again()

    async def accept_again(self):
        if self.refuse_until is not None:
            self.refuse_until = None
            await self.listen()

    async def handle(self, reader, writer):
        self.next_id += 1
        conn = Conn(self.next_id, writer)
        self.conns[conn.id] = conn
        self.stats["accepted"] += 1
        try:
            if self.faults.respond is not None or self.upstream is None:
                await self.respond(conn, reader, writer)
                return
            try:
                ureader, uwriter = await asyncio.open_connection(*self.upstream)
            except OSError:
                self.stats["upstream_failures"] += 1
                conn.reset()
                return
            conn.upstream_writer = uwriter
            await asyncio.gather(
                self.pump(conn, reader, uwriter, "up"),
                self.pump(conn, ureader, writer, "down"),
                return_exceptions=True,
            )
        finally:
            conn.close()
            self.conns.pop(conn.id, None)

    async def respond(self, conn, reader, writer):
        status, headers = self.faults.respond or (503, [])
        try:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
        except Exception:
            return
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
        lines += [f"{n}: {v}" for n, v in headers]
        lines += ["Content-Length: 0", "Connection: close", "", ""]
        writer.write("\r\n".join(lines).encode("latin-1"))
        self.stats["responded"] += 1
        try:
            await writer.drain()
        except Exception:
            pass

    async def pump(self, conn, reader, writer, direction):
        """Reads chunks and hands them, stamped, to a writer task that applies the faults."""
        queue = asyncio.Queue()
        writer_task = asyncio.get_running_loop().create_task(self.deliver(conn, queue, writer, direction))
        try:
            while not conn.closed:
                data = await reader.read(65536)
                if not data:
                    break
                if self.faults.blackhole:
                    self.stats["blackholed_bytes"] += len(data)
                    continue
                await queue.put((time.monotonic() + self.faults.latency, data))
        except (ConnectionError, OSError):
            pass
        await queue.put(None)
        await writer_task

    async def deliver(self, conn, queue, writer, direction):
        try:
            while True:
                item = await queue.get()
                if item is None:
                    if not conn.closed and writer.can_write_eof():
                        writer.write_eof()
                    return
                due, data = item
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if self.faults.blackhole:
                    self.stats["blackholed_bytes"] += len(data)
                    continue
                i = 0
                while i < len(data):
                    # slice N: pieces of a random size between 1 and N bytes.
                    step = random.randint(1, self.faults.slice) if self.faults.slice else len(data)
                    piece = data[i:i + step]
                    i += len(piece)
                    if direction == "down" and self.faults.close_after is not None:
                        room = self.faults.close_after - conn.down_bytes
                        if room <= 0:
                            conn.close()
                            return
                        piece = piece[:room]
                    if self.faults.bandwidth:
                        await asyncio.sleep(len(piece) / self.faults.bandwidth)
                    if conn.closed:
                        return
                    writer.write(piece)
                    await writer.drain()
                    if direction == "down":
                        conn.down_bytes += len(piece)
                        self.stats["down_bytes"] += len(piece)
                        if self.faults.close_after is not None and conn.down_bytes >= self.faults.close_after:
                            conn.close()
                            return
                    else:
                        conn.up_bytes += len(piece)
                        self.stats["up_bytes"] += len(piece)
        except (ConnectionError, OSError):
            conn.close()

    async def command(self, line):
        parts = line.strip().split()
        if not parts:
            return "err empty command"
        cmd, args = parts[0].lower(), parts[1:]
        f = self.faults
        try:
            if cmd == "reset":
                n = len(self.conns)
                for c in list(self.conns.values()):
                    c.reset()
                self.stats["resets"] += n
                return f"ok reset {n}"
            if cmd == "blackhole":
                f.blackhole = args[0] == "on"
            elif cmd == "latency":
                f.latency = max(0, int(args[0])) / 1000.0
            elif cmd == "bandwidth":
                f.bandwidth = None if args[0] == "off" else max(1, int(args[0]))
            elif cmd == "slice":
                f.slice = None if args[0] == "off" else max(1, int(args[0]))
            elif cmd == "close-after":
                f.close_after = None if args[0] == "off" else max(0, int(args[0]))
            elif cmd == "refuse":
                if args[0] == "off":
                    await self.accept_again()
                else:
                    await self.refuse(None if args[0] == "on" else float(args[0]))
            elif cmd == "respond":
                if args[0] == "off":
                    f.respond = None
                else:
                    f.respond = (int(args[0]), parse_headers(" ".join(args[1:])))
            elif cmd == "clear":
                f.clear()
                await self.accept_again()
            elif cmd == "status":
                counters = " ".join(f"{k}={v}" for k, v in self.stats.items())
                listening = "off" if self.refuse_until is not None else "on"
                return f"ok active={len(self.conns)} listening={listening} {counters} {f.describe()}"
            elif cmd == "quit":
                self.stop.set()
                return "ok bye"
            else:
                return f"err unknown command '{cmd}' (see the module docstring)"
        except (IndexError, ValueError) as e:
            return f"err bad arguments for '{cmd}': {e}"
        return f"ok {cmd} {' '.join(args)}".rstrip()


def parse_headers(text):
    """`Retry-After: 2 X-A: b` -> [('Retry-After', '2'), ('X-A', 'b')]; names end with ':'."""
    out = []
    for token in text.split():
        if token.endswith(":"):
            out.append([token[:-1], ""])
        elif out:
            out[-1][1] = (out[-1][1] + " " + token).strip()
    return [(n, v) for n, v in out]


async def control_server(proxy):
    async def serve(reader, writer):
        try:
            while not reader.at_eof():
                line = await reader.readline()
                if not line:
                    break
                reply = await proxy.command(line.decode("utf-8", "replace"))
                writer.write((reply + "\n").encode())
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(serve, host="127.0.0.1", port=0)


async def stdin_commands(proxy):
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    except (OSError, ValueError):
        return  # stdin is not a pipe or tty (e.g. a regular file): control socket only
    while not proxy.stop.is_set():
        line = await reader.readline()
        if not line:  # stdin closed: keep running until `quit` on the control socket
            return
        print(await proxy.command(line.decode("utf-8", "replace")), flush=True)


async def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", help="HOST:PORT of the real server (loopback)")
    ap.add_argument("--respond", help="answer handshakes with this status instead of proxying, e.g. 401")
    ap.add_argument("--header", action="append", default=[], help="'Name: value' for --respond (repeatable)")
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--bandwidth", type=int)
    ap.add_argument("--slice", type=int)
    ap.add_argument("--close-after", type=int)
    opts = ap.parse_args()

    upstream = None
    if opts.upstream:
        host, _, port = opts.upstream.rpartition(":")
        upstream = (host or "127.0.0.1", int(port))
    faults = Faults()
    faults.latency = opts.latency_ms / 1000.0
    faults.bandwidth = opts.bandwidth
    faults.slice = opts.slice
    faults.close_after = opts.close_after
    if opts.respond:
        hs = []
        for h in opts.header:
            n, _, v = h.partition(":")
            hs.append((n.strip(), v.strip()))
        faults.respond = (int(opts.respond), hs)
    elif upstream is None:
        ap.error("give --upstream HOST:PORT, or --respond STATUS for a handshake-only server")

    proxy = Proxy(upstream, faults)
    await proxy.listen()
    ctl = await control_server(proxy)
    print(proxy.port, flush=True)
    print(f"control {ctl.sockets[0].getsockname()[1]}", flush=True)
    stdin_task = asyncio.get_running_loop().create_task(stdin_commands(proxy))
    await proxy.stop.wait()
    stdin_task.cancel()
    ctl.close()
    await proxy.stop_listening()
    for c in list(proxy.conns.values()):
        c.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
