#!/usr/bin/env python3
"""Self-test of fault_proxy.py: run with `python3 tools/fault-proxy/test_fault_proxy.py`.

Stdlib only. It starts a TCP echo server in a thread, runs the proxy as a subprocess in
front of it, and checks every fault. If the `websockets` package is importable (e.g. with
.venv/bin/python) it also proxies a real WebSocket echo.
"""

import os
import socket
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PROXY = os.path.join(HERE, "fault_proxy.py")


class EchoServer:
    """A threaded TCP echo server on 127.0.0.1:0."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.running = True
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while self.running:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.echo, args=(c,), daemon=True).start()

    @staticmethod
    def echo(c):
        with c:
            try:
                while True:
                    d = c.recv(65536)
                    if not d:
                        return
                    c.sendall(d)
            except OSError:
                return

    def close(self):
        self.running = False
        self.sock.close()


class ProxyProcess:
    def __init__(self, *args):
        self.p = subprocess.Popen(
            [sys.executable, PROXY, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        self.port = int(self.p.stdout.readline())
        control = self.p.stdout.readline().split()
        assert control[0] == "control", control
        self.control_port = int(control[1])

    def cmd(self, line):
        """Sends a command on stdin and returns the reply line."""
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def ctl(self, line):
        """Sends a command on the control socket and returns the reply line."""
        with socket.create_connection(("127.0.0.1", self.control_port), timeout=5) as s:
            s.sendall((line + "\n").encode())
            return s.makefile().readline().strip()

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def stop(self):
        if self.p.poll() is None:
            try:
                self.cmd("quit")
                self.p.wait(timeout=5)
            except Exception:
                self.p.kill()
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            try:
                f.close()
            except Exception:
                pass


def listening_sockets(port):
    """The local addresses of the sockets listening on `port`, from /proc/net/tcp and tcp6."""
    found = []
    tables = [("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)]
    if not os.path.exists(tables[0][0]):
        raise unittest.SkipTest("no /proc/net/tcp: cannot check which address the proxy listens on")
    for path, size in tables:
        if not os.path.exists(path):
            continue
        with open(path) as f:
            next(f)
            for line in f:
                fields = line.split()
                addr, port_hex = fields[1].split(":")
                if fields[3] != "0A" or int(port_hex, 16) != port:  # 0A: TCP_LISTEN
                    continue
                raw = bytes.fromhex(addr)
                if size == 4:
                    found.append(socket.inet_ntop(socket.AF_INET, raw[::-1]))
                else:
                    # Four little-endian 32-bit words.
                    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                    found.append(socket.inet_ntop(socket.AF_INET6, words))
    return found


def recv_exactly(s, n, timeout=5):
    s.settimeout(timeout)
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            break
        buf += d
    return buf


class FaultProxyTests(unittest.TestCase):
    def setUp(self):
        self.echo = EchoServer()
        self.proxy = ProxyProcess("--upstream", f"127.0.0.1:{self.echo.port}")

    def tearDown(self):
        self.proxy.stop()
        self.echo.close()

    def test_binds_loopback_and_prints_port_first(self):
        self.assertGreater(self.proxy.port, 0)
        self.assertNotEqual(self.proxy.port, self.echo.port)
        # Listening on 127.0.0.1 only (not 0.0.0.0, not IPv6): read the kernel's socket tables
        # (no `ss` needed). The proxy's listening socket must be found, or nothing was checked.
        for port in (self.proxy.port, self.proxy.control_port):
            listeners = listening_sockets(port)
            self.assertTrue(listeners, f"no listening socket on port {port} in /proc/net/tcp*: nothing was checked")
            self.assertEqual(set(listeners), {"127.0.0.1"}, f"port {port} listens on {listeners}")

    def test_passes_bytes_through(self):
        with self.proxy.connect() as s:
            s.sendall(b"hello")
            self.assertEqual(recv_exactly(s, 5), b"hello")

    def test_slice_keeps_bytes_intact(self):
        self.assertTrue(self.proxy.cmd("slice 3").startswith("ok"))
        data = bytes(range(256)) * 8
        with self.proxy.connect() as s:
            s.sendall(data)
            self.assertEqual(recv_exactly(s, len(data)), data)

    def test_latency_delays_delivery(self):
        self.proxy.cmd("latency 300")
        with self.proxy.connect() as s:
            t0 = time.monotonic()
            s.sendall(b"x")
            self.assertEqual(recv_exactly(s, 1), b"x")
            # Both directions are delayed: at least 2 × 300 ms round trip.
            self.assertGreaterEqual(time.monotonic() - t0, 0.55)

    def test_bandwidth_limits_throughput(self):
        self.proxy.cmd("bandwidth 8000")
        data = b"z" * 4000
        with self.proxy.connect() as s:
            t0 = time.monotonic()
            s.sendall(data)
            self.assertEqual(recv_exactly(s, len(data), timeout=10), data)
            # 4000 bytes up and 4000 down at 8000 B/s: about a second.
            self.assertGreaterEqual(time.monotonic() - t0, 0.9)

    def test_close_after_n_bytes(self):
        self.proxy.cmd("close-after 10")
        with self.proxy.connect() as s:
            s.sendall(b"0123456789abcdefghij")
            got = recv_exactly(s, 20)
            self.assertEqual(got, b"0123456789")

    def test_blackhole_then_recover(self):
        with self.proxy.connect() as s:
            self.assertTrue(self.proxy.ctl("blackhole on").startswith("ok"))
            s.sendall(b"lost")
            s.settimeout(0.5)
            with self.assertRaises(socket.timeout):
                s.recv(10)
            self.proxy.ctl("blackhole off")
            s.sendall(b"back")
            self.assertEqual(recv_exactly(s, 4), b"back")
        self.assertIn("blackholed_bytes=4", self.proxy.cmd("status"))

    def test_reset_mid_connection(self):
        with self.proxy.connect() as s:
            s.sendall(b"a")
            self.assertEqual(recv_exactly(s, 1), b"a")
            self.assertEqual(self.proxy.cmd("reset"), "ok reset 1")
            s.settimeout(5)
            with self.assertRaises((ConnectionResetError, BrokenPipeError)):
                s.recv(10)
                s.sendall(b"b")
                s.recv(10)

    def test_refuse_for_a_while_then_accept(self):
        self.assertTrue(self.proxy.cmd("refuse on").startswith("ok"))
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", self.proxy.port), timeout=2)
        self.proxy.cmd("refuse off")
        with self.proxy.connect() as s:
            s.sendall(b"ok")
            self.assertEqual(recv_exactly(s, 2), b"ok")
        # Timed refusal ends by itself.
        self.proxy.cmd("refuse 0.3")
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", self.proxy.port), timeout=2)
        time.sleep(0.6)
        with self.proxy.connect() as s:
            s.sendall(b"ok")
            self.assertEqual(recv_exactly(s, 2), b"ok")

    def test_respond_with_status_and_headers_at_runtime(self):
        self.assertTrue(self.proxy.cmd("respond 503 Retry-After: 2").startswith("ok"))
        with self.proxy.connect() as s:
            s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
            reply = recv_exactly(s, 4096, timeout=5).decode()
        self.assertTrue(reply.startswith("HTTP/1.1 503 Service Unavailable\r\n"), reply)
        self.assertIn("Retry-After: 2\r\n", reply)
        self.proxy.cmd("respond off")
        with self.proxy.connect() as s:
            s.sendall(b"ping")
            self.assertEqual(recv_exactly(s, 4), b"ping")

    def test_unknown_command_is_an_error(self):
        self.assertTrue(self.proxy.cmd("frobnicate").startswith("err"))
        self.assertTrue(self.proxy.cmd("latency x").startswith("err"))


class RespondModeTests(unittest.TestCase):
    def test_handshake_only_server(self):
        p = ProxyProcess("--respond", "401", "--header", "WWW-Authenticate: Bearer")
        try:
            with p.connect() as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                reply = recv_exactly(s, 4096).decode()
            self.assertTrue(reply.startswith("HTTP/1.1 401 Unauthorized"), reply)
            self.assertIn("WWW-Authenticate: Bearer", reply)
        finally:
            p.stop()


try:
    import asyncio
    import websockets  # noqa: F401
    from websockets.asyncio.server import serve as ws_serve
    from websockets.asyncio.client import connect as ws_connect
    HAVE_WEBSOCKETS = True
except Exception:
    HAVE_WEBSOCKETS = False


REQUIRE_ALL = os.environ.get("WIRETAPE_REQUIRE_ALL") == "1"


@unittest.skipUnless(HAVE_WEBSOCKETS or REQUIRE_ALL, "websockets not installed (use .venv/bin/python)")
class WebSocketThroughProxyTests(unittest.TestCase):
    def test_ws_echo_through_sliced_proxy_then_reset(self):
        # With WIRETAPE_REQUIRE_ALL=1 (CI) a missing `websockets` fails instead of skipping.
        self.assertTrue(HAVE_WEBSOCKETS, "websockets is not importable and WIRETAPE_REQUIRE_ALL=1")
        async def run():
            async def echo(ws):
                async for m in ws:
                    await ws.send(m)

            async with ws_serve(echo, "127.0.0.1", 0) as server:
                port = server.sockets[0].getsockname()[1]
                proxy = await asyncio.to_thread(ProxyProcess, "--upstream", f"127.0.0.1:{port}", "--slice", "7")
                try:
                    async with ws_connect(f"ws://127.0.0.1:{proxy.port}/") as ws:
                        await ws.send("x" * 1000)
                        self.assertEqual(await ws.recv(), "x" * 1000)
                        await asyncio.to_thread(proxy.cmd, "reset")
                        with self.assertRaises(Exception):
                            await ws.send("after reset")
                            await asyncio.wait_for(ws.recv(), 5)
                finally:
                    await asyncio.to_thread(proxy.stop)

        asyncio.run(run())


if __name__ == "__main__":
    unittest.main(verbosity=2)
