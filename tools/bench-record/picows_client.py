#!/usr/bin/env python3
"""The fastest-client baseline for tools/bench-record: picows (PyPI, Cython) receiving frames and
doing nothing with them. Prints "<frames> <payload bytes> <seconds>".

  picows_client.py ws://127.0.0.1:PORT/
"""
import asyncio, sys, time

from picows import WSListener, WSMsgType, ws_connect


class Counter(WSListener):
    def __init__(self):
        self.frames = 0
        self.bytes = 0

    def on_ws_frame(self, transport, frame):
        if frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()
            return
        self.frames += 1
        self.bytes += len(frame.get_payload_as_memoryview())


async def main(url):
    start = time.perf_counter()
    transport, listener = await ws_connect(Counter, url, max_frame_size=1 << 30)
    await transport.wait_disconnected()
    print(listener.frames, listener.bytes, f"{time.perf_counter() - start:.4f}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
