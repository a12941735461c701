"""Running bots: many per process on one event loop, optionally over several processes.

Each process starts its bots at its share of the login rate (at most ``concurrency`` logging in
at once), waits until every one got in or gave up, lets things settle, then measures for
``duration`` seconds and logs the bots out. Once a second it hands its counters to
``on_figures`` (in a child process: a queue to the parent, which prints the progress line).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.queues
import queue
import random
import signal
import time
from collections.abc import Callable, Coroutine
from multiprocessing.synchronize import Event as EventType
from typing import Any

from shardkit.bots.bot import Bot, error_code
from shardkit.bots.options import BotOptions
from shardkit.bots.stats import BotStats, Figures
from shardkit.runtime.collector import freeze_long_lived

PROGRESS_S = 1.0


async def run_bots(options: BotOptions, accounts: list[str], stop: asyncio.Event,
                   on_figures: Callable[[Figures, bool], None], seed: int = 0,
                   everyone_in: Callable[[], bool] = lambda: True) -> Figures:
    """Run ``accounts`` as bots in this process until measured (or ``stop``); the last figures.

    The window starts once this process's bots are in and ``everyone_in()`` (the other
    processes' bots too), so every process measures the same load.
    """
    stats = BotStats(len(accounts))
    rng = random.Random(seed)
    bots = [Bot(name, options, stats, random.Random(rng.random())) for name in accounts]
    entering = asyncio.Semaphore(options.concurrency)
    rate = options.login_rate / options.procs
    tasks = [asyncio.create_task(_life(bot, i / rate, entering, stop)) for i, bot in
             enumerate(bots)]
    reporter = asyncio.create_task(_report_every_second(stats, on_figures))
    try:
        while (stats.finished_entering < len(bots) or not everyone_in()) and not stop.is_set():
            await _wait(stop, 0.2)
        await _wait(stop, options.settle)
        if not stop.is_set():
            # every bot is in: what they hold lives to the end, so no collection rescans it
            # (a full one over 2,000 bots' connections stalls all of them for tens of ms,
            # which would count as the zone's latency)
            freeze_long_lived()
            stats.begin_window()
            await _wait(stop, options.duration if options.duration > 0 else None)
        figures = stats.figures()
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        reporter.cancel()
    return figures


async def _wait(stop: asyncio.Event, seconds: float | None) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


async def _life(bot: Bot, delay: float, entering: asyncio.Semaphore,
                stop: asyncio.Event) -> None:
    stats = bot.stats
    await _wait(stop, delay)
    got_in = False
    try:
        if stop.is_set():
            return
        async with entering:
            await asyncio.wait_for(bot.enter(), bot.options.enter_timeout)
        got_in = True
        stats.entered += 1
        stats.in_zone += 1
        stats.finished_entering += 1
        await bot.play(stop)
    except Exception as exc:  # counted by its code; the bot is done
        stats.error(error_code(exc))
    finally:
        if not got_in:
            stats.finished_entering += 1
        else:
            stats.in_zone -= 1
        await bot.leave()


async def _report_every_second(stats: BotStats, on_figures: Callable[[Figures, bool], None]
                               ) -> None:
    while True:
        await asyncio.sleep(PROGRESS_S)
        on_figures(stats.figures(with_latencies=False), False)


# ------------------------------------------------------------------ processes


def split(accounts: list[str], procs: int) -> list[list[str]]:
    return [accounts[i::procs] for i in range(procs) if accounts[i::procs]]


def child_main(options: BotOptions, accounts: list[str], proc: int,
               out: multiprocessing.queues.Queue[tuple[bool, Figures]],
               everyone_in: EventType) -> None:
    """A bot process: runs its bots and puts ``(final, figures)`` on ``out`` every second."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop (SIGTERM)

    def send(figures: Figures, final: bool) -> None:
        figures.proc = proc
        out.put((final, figures))

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        send(await run_bots(options, accounts, stop, send, seed=proc,
                            everyone_in=everyone_in.is_set), True)

    run_loop(main())


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine on uvloop when it is installed."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)


class Processes:
    """Child bot processes, and the latest figures each sent."""

    def __init__(self, options: BotOptions) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.queue: multiprocessing.queues.Queue[tuple[bool, Figures]] = ctx.Queue()
        self.everyone_in = ctx.Event()  # set by the parent: every process's bots are in
        self.bots = options.bots
        self.procs = [ctx.Process(target=child_main,
                                  args=(options, part, i, self.queue, self.everyone_in),
                                  daemon=True)
                      for i, part in enumerate(split(options.names(), options.procs))]
        self.latest: dict[int, Figures] = {}
        self.final: dict[int, Figures] = {}

    def start(self) -> None:
        for proc in self.procs:
            proc.start()

    def stop(self) -> None:
        """Ask every child to log its bots out and report (SIGTERM)."""
        for proc in self.procs:
            if proc.is_alive():
                proc.terminate()

    def poll(self, timeout: float) -> None:
        """Take what the children sent within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                final, figures = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return
            if final:  # the window's figures, taken before the bots logged out
                self.final[figures.proc] = figures
            else:
                self.latest[figures.proc] = figures
            entered = sum(f.finished_entering for f in self.latest.values())
            if entered >= self.bots or not all(p.is_alive() for p in self.procs):
                self.everyone_in.set()  # (a process that died will not get its bots in)

    def done(self) -> bool:
        return len(self.final) == len(self.procs) or not any(p.is_alive() for p in self.procs)

    def merged(self, final: bool) -> Figures:
        """Everyone's figures summed: the final ones (the latest of a child that sent none)."""
        merged = Figures(procs=len(self.procs))
        chosen = {**self.latest, **self.final} if final else self.latest
        for figures in chosen.values():
            merged.merge(figures)
        return merged
