"""What the wire layer costs: small requests and notifications per second over loopback, and the
server's CPU time per message.

    python bench/wire_throughput.py [--requests 40000] [--notifications 200000] [--window 16]
                                    [--rounds 3] [--profile stats.prof]

Starts an RPC server (``shardkit.wire.rpc.serve``, uvloop when present, one tiny router) as its
own process and drives it from this one over 127.0.0.1:

1. ``requests``: ``echo(i)`` calls with ``--window`` of them in flight at a time (the player
   bound is 32), so the figure includes the round trip of each.
2. ``notifications``: one-way ``tick(i)`` notifications (a synchronous handler) written in
   batches, each batch followed by one ``echo`` call that waits until the server has read it.

3. ``read_path``: the same messages fed to one server-side ``RpcConnection`` in this process
   through a ``StreamReader`` (no sockets, no client), timed by CPU time: the wire's own cost
   per message (framing, decoding, dispatch, the response's encoding), the steadiest figure.

The server's CPU time (user + system, from /proc) per message is steadier than the rates on a
busy machine; the rates depend on the client sharing the cores. With ``--profile`` the server runs
under cProfile and writes its statistics to that file. Each phase runs ``--rounds`` times and the
best round is kept. Prints as it goes; the last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

from shardkit.wire.rpc import Identity, Router, RpcConnection, connect, rpc, serve  # noqa: E402


class Bench:
    """The server's methods: an echo request and a notification that only counts."""

    def __init__(self) -> None:
        self.ticks = 0

    @rpc("echo", public=True)
    def echo(self, conn: RpcConnection) -> int:
        return self.ticks

    @rpc("tick", public=True)
    def tick(self, conn: RpcConnection) -> None:
        self.ticks += 1


def logged_in(conn: RpcConnection) -> None:
    conn.identity = Identity("player", "bench")  # a player's bounds, as after a login


async def run_server(stop_after_s: float) -> None:
    server = await serve(
        "127.0.0.1", 0, Router.for_services(Bench()), on_connect=logged_in, require_auth=False
    )
    print(server.port, flush=True)
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    loop.add_reader(sys.stdin.fileno(), done.set)  # the driver closes our stdin to stop us
    try:
        await asyncio.wait_for(done.wait(), stop_after_s)
    except TimeoutError:
        pass
    await server.close()


def serve_main(profile: str | None) -> None:
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        try:
            runner(run_server(600))
        finally:
            profiler.disable()
            profiler.dump_stats(profile)
    else:
        runner(run_server(600))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def requests_phase(port: int, count: int, window: int) -> tuple[float, int]:
    conn = await connect("127.0.0.1", port)
    started = time.perf_counter()
    sent = 0

    async def caller() -> None:
        nonlocal sent
        while sent < count:
            sent += 1
            await conn.call("echo")

    await asyncio.gather(*(caller() for _ in range(window)))
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, sent


async def notifications_phase(port: int, count: int, batch: int = 500) -> tuple[float, int]:
    conn = await connect("127.0.0.1", port)
    started = time.perf_counter()
    sent = 0
    while sent < count:
        for _ in range(min(batch, count - sent)):
            conn.notify("tick")
            sent += 1
        await conn.call("echo")  # answered only after the batch before it was read
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, sent


class _NullTransport:
    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False

    def write(self, data: bytes) -> None:
        pass


class _NullWriter:
    """What an RpcConnection needs of a StreamWriter, dropping what is written."""

    transport = _NullTransport()

    def get_extra_info(self, name: str) -> object:
        return ("127.0.0.1", 1) if name == "peername" else None

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def read_path_us(kind: str, count: int) -> float:
    """CPU microseconds per message for one connection to read and handle ``count`` of them."""

    async def run() -> float:
        from shardkit.wire.rpc import encode_notification

        reader = asyncio.StreamReader(limit=64 * 1024)
        if kind == "request":
            from shardkit.wire.rpc import _encoder

            data = b"".join(_encoder.encode((0, i, "echo", ())) for i in range(count))
        else:
            data = encode_notification("tick") * count
        reader.feed_data(data)
        reader.feed_eof()
        conn = RpcConnection(reader, _NullWriter(), Router.for_services(Bench()))  # type: ignore[arg-type]
        logged_in(conn)
        started = time.process_time()
        await conn.serve()
        while conn._tasks:  # requests still finishing
            await asyncio.sleep(0)
        return (time.process_time() - started) / count * 1e6

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=40_000)
    parser.add_argument("--notifications", type=int, default=200_000)
    parser.add_argument("--window", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", default=None, help="write the server's cProfile stats here")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_main(args.profile)
        return

    argv = [sys.executable, __file__, "--serve"]
    argv += ["--profile", args.profile] if args.profile else []
    server = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None and server.stdin is not None
    port = int(server.stdout.readline())
    figures: dict[str, float] = {}
    try:
        for phase, count in (("requests", args.requests), ("notifications", args.notifications)):
            best_rate, best_cpu = 0.0, float("inf")
            for round_no in range(1, args.rounds + 1):
                cpu_before = cpu_seconds(server.pid)
                if phase == "requests":
                    elapsed, done = asyncio.run(requests_phase(port, count, args.window))
                else:
                    elapsed, done = asyncio.run(notifications_phase(port, count))
                cpu_us = (cpu_seconds(server.pid) - cpu_before) / done * 1e6
                rate = done / elapsed
                print(f"{phase} round {round_no}: {rate:,.0f}/s, server CPU {cpu_us:.2f} us each",
                      flush=True)
                best_rate, best_cpu = max(best_rate, rate), min(best_cpu, cpu_us)
            figures[f"{phase}_per_s"] = round(best_rate)
            figures[f"server_cpu_us_per_{phase[:-1]}"] = round(best_cpu, 2)
    finally:
        server.stdin.close()
        server.wait(30)
    for kind, count in (("request", args.requests), ("notification", args.notifications)):
        best = min(read_path_us(kind, count) for _ in range(args.rounds))
        print(f"read path, {kind}s: {best:.2f} us each (CPU, in-process)", flush=True)
        figures[f"read_path_us_per_{kind}"] = round(best, 3)
    if args.profile:
        import pstats

        pstats.Stats(args.profile).sort_stats("tottime").print_stats(15)
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
