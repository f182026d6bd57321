"""The load generator's own ceiling: wrk against the smallest possible HTTP server (asyncio,
one fixed keep-alive response). If wrk does many times more here than against the app's
bare route, the figures below measure the app, not the generator.

Run as ``python -m bench.ceiling FD``: serves on the listening socket inherited as FD.
"""
from __future__ import annotations

import asyncio
import socket
import sys

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nhello\n"


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if not head:
                break
            writer.write(RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def _serve(fd: int) -> None:
    sock = socket.socket(fileno=fd)
    server = await asyncio.start_server(_handle, sock=sock)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1])))
