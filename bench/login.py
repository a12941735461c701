"""Logins per second against a master process: concurrent SCRAM-SHA-256 clients, p50/p99 latency.

    python bench/login.py [--clients 50] [--accounts 200] [--seconds 8] [--workers 2]

Starts ``shardkit master`` as its own process (test config on free loopback ports, SQLite in
WAL mode with synchronous=FULL, the production iteration count unless --iterations says
otherwise), registers the accounts, then runs three phases with client worker processes:

1. ``saturation``: every client logs in back to back (connect, login_start, PBKDF2,
   login_finish, check the server's proof, close), so the figure is the most the box does.
   Each login runs the client's PBKDF2, as a real player's would.
2. ``paced``: the clients together offer --rate logins/s (open loop: a login starts on
   schedule whether or not the previous one finished), and latency is measured there.
3. ``server_only``: like 1, but the clients cache their SaltedPassword, so the client side
   costs almost nothing and the master gets (nearly) the whole machine.

Latency is from the client's connect to its check of the server's proof. The master's and
the clients' CPU use are reported, because on a small box they share the cores.
Prints as it goes; the last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import multiprocessing as mp
import os
import queue
import re
import resource
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

SRC = Path(__file__).resolve().parents[1] / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

from shardkit.testing.harness import start_shardkit, write_cluster_config  # noqa: E402
from shardkit.wire.rpc import RpcError, connect  # noqa: E402
from shardkit.wire.scram import make_verifier  # noqa: E402

PASSWORD = "bench password 123"


# --------------------------------------------------------------------- client side


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


class ScramClient:
    """RFC 5802 client math, with an optional SaltedPassword cache (the server_only phase)."""

    def __init__(self, cache: dict[str, bytes] | None) -> None:
        self.cache = cache
        self.closing: list[asyncio.Task[None]] = []

    def salted(self, name: str, salt: bytes, iterations: int) -> bytes:
        if self.cache is not None and name in self.cache:
            return self.cache[name]
        value = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), salt, iterations)
        if self.cache is not None:
            self.cache[name] = value
        return value

    async def login(self, port: int, name: str) -> None:
        conn = await connect("127.0.0.1", port)
        try:
            nonce = secrets.token_urlsafe(18)
            bare = f"n={name},r={nonce}"
            started = await conn.call("login_start", name, "n,," + bare)
            server_first = started["server_first"]
            fields = dict(part.split("=", 1) for part in server_first.split(","))
            salted = self.salted(name, base64.b64decode(fields["s"]), int(fields["i"]))
            without_proof = f"c=biws,r={fields['r']}"
            auth = f"{bare},{server_first},{without_proof}".encode()
            client_key = _hmac(salted, b"Client Key")
            signature = _hmac(hashlib.sha256(client_key).digest(), auth)
            proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
            done = await conn.call(
                "login_finish", f"{without_proof},p={base64.b64encode(proof).decode()}")
            expected = _hmac(_hmac(salted, b"Server Key"), auth)
            if done["server_final"] != "v=" + base64.b64encode(expected).decode():
                raise RuntimeError("the master could not prove the verifier")
        finally:
            conn.close()
        self.closing.append(conn.start())  # its read loop ends on EOF; keep it referenced




async def _client_loop(port: int, names: list[str], client: ScramClient, until: float,
                       interval: float | None, start_at: float, out: list[tuple[float, float]],
                       errors: list[str]) -> None:
    """Log in over and over (back to back, or one every ``interval`` s) until ``until``."""
    next_at = start_at
    i = 0
    while True:
        if interval is not None:
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        now = time.monotonic()
        if now >= until:
            return
        try:
            await client.login(port, names[i % len(names)])
            out.append((now, time.monotonic() - now))
        except (RpcError, OSError, RuntimeError) as exc:
            errors.append(str(exc))
        i += 1
        if len(client.closing) > 200:
            client.closing = [t for t in client.closing if not t.done()]


def _worker(port: int, names: list[str], clients: int, seconds: float, interval: float | None,
            cached: bool, results: Any, progress: Any) -> None:
    """One client process: ``clients`` concurrent login loops; sends its figures back."""

    async def main() -> None:
        client = ScramClient({} if cached else None)
        if cached:  # fill the cache first: the phase measures the server alone
            await asyncio.gather(*(client.login(port, n) for n in names))
        out: list[tuple[float, float]] = []
        errors: list[str] = []
        start = time.monotonic()
        until = start + seconds
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)

        async def report() -> None:
            sent = 0
            while time.monotonic() < until:
                await asyncio.sleep(1.0)
                progress.put(len(out) - sent)
                sent = len(out)

        reporter = asyncio.create_task(report())
        stagger = (interval or 0.0) / max(1, clients)
        await asyncio.gather(*(
            _client_loop(port, names[k::clients] or names, client, until, interval,
                         start + k * stagger - (interval or 0.0), out, errors)
            for k in range(clients)))
        reporter.cancel()
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in rest:  # the read loops of closed connections
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        results.put({"latencies": [lat for _, lat in out], "errors": errors[:5],
                     "error_count": len(errors), "cpu_s": cpu,
                     "elapsed_s": time.monotonic() - start})

    try:
        import uvloop
        uvloop.run(main())
    except ImportError:
        asyncio.run(main())


# --------------------------------------------------------------------- master side


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _register_all(port: int, names: list[str], iterations: int) -> None:
    """Register in batches below the in-flight limit, each on a fresh connection (auth deadline)."""
    for start in range(0, len(names), 25):
        batch = names[start:start + 25]
        verifiers = [make_verifier(PASSWORD, iterations) for _ in batch]
        conn = await connect("127.0.0.1", port)
        try:
            await asyncio.gather(*(
                conn.call("register", n, v.salt, v.stored_key, v.server_key, v.iterations)
                for n, v in zip(batch, verifiers, strict=True)))
        finally:
            conn.close()
    rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in rest:  # the read loops of closed connections
        task.cancel()
    await asyncio.gather(*rest, return_exceptions=True)


async def _server_latency(status_port: int) -> str:
    """The master's own request timings (sum and count per method), from its /metrics page."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http, \
            http.get(f"http://127.0.0.1:{status_port}/metrics") as response:
        text = await response.text()
    return "\n".join(line for line in text.splitlines()
                     if line.startswith("shardkit_master_request_seconds")
                     and 'method="login' in line)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def run_phase(label: str, port: int, master_pid: int, names: list[str], args: argparse.Namespace,
              *, interval: float | None, cached: bool) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    results, progress = ctx.Queue(), ctx.Queue()
    per_worker = [args.clients // args.workers + (1 if k < args.clients % args.workers else 0)
                  for k in range(args.workers)]
    shares = [names[k::args.workers] for k in range(args.workers)]
    workers = [ctx.Process(target=_worker, args=(port, shares[k], per_worker[k], args.seconds,
                                                 interval, cached, results, progress))
               for k in range(args.workers) if per_worker[k]]
    for w in workers:
        w.start()
    master_cpu0, wall0 = _cpu_seconds(master_pid), time.monotonic()
    collected: list[dict[str, Any]] = []
    second = 0
    while len(collected) < len(workers):  # bounded: each worker stops after args.seconds
        try:
            collected.append(results.get(timeout=1.0))
        except queue.Empty:
            second += 1
            done = 0
            while not progress.empty():
                done += progress.get()
            if done:
                print(f"{label:>12}: t={second:>2} s  ~{done} logins in the last second",
                      flush=True)
    master_cpu = _cpu_seconds(master_pid) - master_cpu0
    wall = time.monotonic() - wall0
    for w in workers:
        w.join(10)
    latencies = [lat for c in collected for lat in c["latencies"]]
    elapsed = max(c["elapsed_s"] for c in collected)
    client_cpu = sum(c["cpu_s"] for c in collected)
    figures = {
        "logins_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(_percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
        "logins": len(latencies),
        "errors": sum(c["error_count"] for c in collected),
        "master_cpu_pct": round(100 * master_cpu / wall, 1),
        "clients_cpu_pct": round(100 * client_cpu / elapsed, 1),
    }
    if any(c["errors"] for c in collected):
        figures["first_errors"] = [e for c in collected for e in c["errors"]][:3]
    print(f"{label:>12}: {figures['logins_per_s']:>7} logins/s  p50 {figures['p50_ms']} ms  "
          f"p99 {figures['p99_ms']} ms  master CPU {figures['master_cpu_pct']}%  "
          f"clients CPU {figures['clients_cpu_pct']}%  errors {figures['errors']}", flush=True)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each phase")
    parser.add_argument("--workers", type=int, default=2, help="client processes")
    parser.add_argument("--rate", type=float, default=300.0, help="offered logins/s, paced phase")
    parser.add_argument("--phases", nargs="+", default=["saturation", "paced", "server_only"],
                        choices=["saturation", "paced", "server_only"])
    parser.add_argument("--show-metrics", action="store_true",
                        help="print the master's own request timings at the end")
    parser.add_argument("--iterations", type=int, default=0,
                        help="SCRAM iterations (default: the master's production setting)")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="shardkit-bench-login-"))
    options: dict[str, object] = {"registrations_per_ip": 1_000_000}
    if args.iterations:
        options["scram_iterations"] = args.iterations
    write_cluster_config(root, master_options=options)
    from shardkit.config.settings import load_settings

    settings = load_settings(root)
    iterations = settings.server.master.scram_iterations
    master = start_shardkit(root, "master")
    try:
        master.wait_for_line("master status page (http)", timeout=30)
        port = settings.server.master.port
        print(f"master pid {master.process.pid} on 127.0.0.1:{port}; {os.cpu_count()} cores; "
              f"SCRAM iterations {iterations}; {args.clients} clients in {args.workers} "
              f"processes", flush=True)
        names = [f"bench{i:05d}" for i in range(args.accounts)]
        started = time.monotonic()
        asyncio.run(_register_all(port, names, iterations))
        print(f"registered {len(names)} accounts in {time.monotonic() - started:.1f} s", flush=True)
        pid = master.process.pid
        phases: dict[str, dict[str, Any]] = {}
        if "saturation" in args.phases:
            phases["saturation"] = run_phase("saturation", port, pid, names, args, interval=None,
                                             cached=False)
        if "paced" in args.phases:
            phases["paced"] = {"offered_per_s": args.rate, **run_phase(
                f"{args.rate:.0f}/s paced", port, pid, names, args,
                interval=args.clients / args.rate, cached=False)}
        if "server_only" in args.phases:
            phases["server_only"] = run_phase("server_only", port, pid, names, args,
                                              interval=None, cached=True)
        if args.show_metrics:
            line = master.lines[master.wait_for_line("master status page (http) listening")]
            status_port = int(re.search(r":(\d+) ", line).group(1))  # type: ignore[union-attr]
            print(asyncio.run(_server_latency(status_port)), flush=True)
    finally:
        master.stop()
    headline = next(iter(phases.values()))
    summary = {
        "logins_per_s": headline["logins_per_s"],
        "p50_ms": headline["p50_ms"],
        "p99_ms": headline["p99_ms"],
        "clients": args.clients,
        "iterations": iterations,
        "cores": os.cpu_count(),
        **phases,
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
