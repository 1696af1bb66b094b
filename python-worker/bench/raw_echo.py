#!/usr/bin/env python3
"""The "floor" peer for a raw round trip: connects to a Unix socket and echoes
length-prefixed messages back, as fast as a minimal Python loop can.

Usage: python3 raw_echo.py /path/to/socket

Each message is a u32 big-endian length followed by that many bytes (a
Snakepit frame has exactly that shape, so the node's benchmark can send real
frames). Everything complete in one read is echoed with one send, so
pipelined senders are served too. Blocking socket, no asyncio, no parsing
beyond the length prefixes: the cheapest Python peer there is, to compare
the worker runtime against.
"""

import socket
import sys


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: raw_echo.py SOCKET_PATH")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(sys.argv[1])
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    have = 0
    from_bytes = int.from_bytes
    recv_into = sock.recv_into
    sendall = sock.sendall
    while True:
        if have == len(buf):  # a message larger than the buffer: grow it
            buf.extend(bytes(len(buf)))
            view.release()
            view = memoryview(buf)
        n = recv_into(view[have:])
        if n == 0:
            return
        have += n
        pos = 0
        while have - pos >= 4:
            end = pos + 4 + from_bytes(buf[pos:pos + 4], "big")
            if end > have:
                break
            pos = end
        if pos:
            sendall(view[:pos])
            if pos < have:
                buf[:have - pos] = buf[pos:have]
            have -= pos


if __name__ == "__main__":
    try:
        main()
    except (KeyboardInterrupt, BrokenPipeError, ConnectionResetError):
        pass
