"""A minimal SOCKS5 proxy (no auth, CONNECT only) on 127.0.0.1 for proxy-url tests: it records
every CONNECT target and relays the bytes."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any


class FakeSocks:
    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, n_methods = await reader.readexactly(2)
        await reader.readexactly(n_methods)
        writer.write(b"\x05\x00")  # no authentication
        _, cmd, _, atyp = await reader.readexactly(4)
        if cmd != 1:  # only CONNECT
            writer.close()
            return
        if atyp == 1:
            host = socket.inet_ntoa(await reader.readexactly(4))
        elif atyp == 3:
            host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        else:
            writer.close()
            return
        port = int.from_bytes(await reader.readexactly(2), "big")
        self.connects.append((host, port))
        target = "127.0.0.1" if host.endswith(".invalid") else host
        up_reader, up_writer = await asyncio.open_connection(target, port)
        writer.write(b"\x05\x00\x00\x01" + bytes(4) + bytes(2))
        await writer.drain()
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))


@contextlib.contextmanager
def socks_in_thread() -> Iterator[tuple[FakeSocks, str]]:
    fake = FakeSocks()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def main() -> None:
        stop = loop.create_future()
        holder["stop"] = stop
        server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
        holder["port"] = server.sockets[0].getsockname()[1]
        started.set()
        await stop
        server.close()
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()

    def run() -> None:
        loop.run_until_complete(main())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield fake, f"socks5://127.0.0.1:{holder['port']}"
    finally:
        loop.call_soon_threadsafe(holder["stop"].set_result, None)
        thread.join(5)
