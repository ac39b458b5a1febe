"""A closed-loop HTTP/1.1 load generator on raw asyncio streams, and its concurrency sweep.

Each worker owns one keep-alive connection and sends its next request when the
previous one has answered. Requests are bytes built up front but for a header
or two, and a response is read by its status line and Content-Length: a few
microseconds of the generator's CPU per request, where httpx spent about a
millisecond and capped both servers near 240 requests/s on this machine (issue 30).

``sweep`` doubles the concurrency until the throughput stops rising (less than
``min_gain`` over the best so far, ``patience`` times in a row): the plateau is
the concurrency of the best step, where the server, not the generator, is the limit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from common import sweep_best, sweep_finished


def parse_head(head: bytes) -> tuple[int, int | None, bool, bool]:
    """(status, Content-Length or None, chunked, the server closes) of a response's
    status line and headers (up to and including the blank line)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ValueError(f"not an HTTP/1.x status line: {lines[0]!r}")
    status = int(parts[1])
    length: int | None = None
    chunked = False
    close = parts[0] == "HTTP/1.0"
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding":
            chunked = "chunked" in value
        elif name == "connection":
            close = value == "close"
    return status, length, chunked, close


def request_bytes(url: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """A complete POST with a JSON body."""
    host = urlsplit(url).netloc
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Connection:
    """One keep-alive HTTP/1.1 connection; opened again if the server closes it."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status, length, chunked, close = parse_head(head)
        if chunked:
            body = await self._chunks()
        else:
            body = await self.reader.readexactly(length or 0)
        if close:
            await self.close()
        return status, body

    async def _chunks(self) -> bytes:
        assert self.reader is not None
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)

    async def close(self) -> None:
        writer, self.writer, self.reader = self.writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass


@dataclass
class LoopResult:
    concurrency: int
    answered: int  # with the expected status
    failures: int
    seconds: float
    generator_cpu_seconds: float
    first_failure: str | None = None

    @property
    def rps(self) -> float:
        return self.answered / self.seconds if self.seconds > 0 else 0.0


async def closed_loop(
    url: str,
    make_request: Callable[[int], bytes],
    concurrency: int,
    seconds: float,
    expect: int = 201,
) -> LoopResult:
    """``concurrency`` workers, each on its own connection, send requests back to
    back for ``seconds``; the connections are open before the clock starts."""
    connections = [Connection(url) for _ in range(concurrency)]
    await asyncio.gather(*(c.open() for c in connections))
    answered = failures = 0
    counter = 0
    first_failure: str | None = None
    deadline = 0.0

    async def worker(connection: Connection) -> None:
        nonlocal answered, failures, counter, first_failure
        while time.perf_counter() < deadline:
            i, counter = counter, counter + 1
            try:
                status, body = await connection.send(make_request(i))
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                failures += 1
                first_failure = first_failure or f"{type(exc).__name__}: {exc}"
                await connection.close()
                continue
            if status == expect:
                answered += 1
            else:
                failures += 1
                first_failure = first_failure or f"{status} {body[:300]!r}"

    cpu = time.process_time()
    start = time.perf_counter()
    deadline = start + seconds
    try:
        await asyncio.gather(*(worker(c) for c in connections))
    finally:
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
        await asyncio.gather(*(c.close() for c in connections))
    return LoopResult(concurrency, answered, failures, elapsed, cpu, first_failure)


async def sweep(
    run_at: Callable[[int], Awaitable[float]],
    levels: Sequence[int],
    min_gain: float = 0.05,
    patience: int = 2,
    show: Callable[[int, float, float | None], None] | None = None,
) -> tuple[int, list[tuple[int, float]]]:
    """Raise the concurrency through ``levels`` until the throughput stops rising;
    (the plateau's concurrency, every step measured as (concurrency, rps))."""
    points: list[tuple[int, float]] = []
    for level in levels:
        rps = await run_at(level)
        best_before = sweep_best(points)[1] if points else None
        points.append((level, rps))
        if show is not None:
            show(level, rps, best_before)
        if sweep_finished(points, min_gain, patience):
            break
    return sweep_best(points, min_gain)[0], points
