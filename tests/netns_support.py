"""Network hosts for tests: Linux network namespaces joined by veth pairs through a bridge.

``NetworkHosts`` builds them (root only) and always tears them down; ``in_host`` runs a
function in a thread that lives in one host's namespace, so a client made there dials
from that host's address.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from shardkit.testing.harness import RunningProcess

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
SUBNET = "10.213.0"


def ip(*args: str) -> None:
    """Run ``ip <args>``; a failure raises with what ip said."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def namespaces_unavailable() -> str | None:
    """Why namespaces cannot be made here (None if they can): tried, not guessed."""
    probe = f"skprobe{os.getpid()}"
    try:
        ip("netns", "add", probe)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        return f"cannot create network namespaces here ({exc}); run as root on Linux"
    ip("netns", "del", probe)
    return None


class NetworkHosts:
    """Hosts 1..n, each a namespace with one address on a shared bridge, plus direct links.

    Host i has address 10.213.0.i on its interface to the bridge (which lives in a namespace
    of its own). ``direct(a, b)`` adds a second cable between two hosts and routes their
    traffic to each other over it (falling back to "unreachable", never to the bridge, while
    it is down), so a test can cut that cable alone.
    """

    def __init__(self, count: int) -> None:
        tag = str(os.getpid() % 100000)
        self.tag = tag
        self.bridge_ns = f"skbr{tag}"
        self.names = {i: f"skh{i}x{tag}" for i in range(1, count + 1)}
        self.made: list[str] = []
        self.cables: dict[tuple[int, int], tuple[str, str]] = {}

    def address(self, host: int) -> str:
        return f"{SUBNET}.{host}"

    def build(self) -> None:
        ip("netns", "add", self.bridge_ns)
        self.made.append(self.bridge_ns)
        ip("-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
        ip("-n", self.bridge_ns, "link", "set", "br0", "up")
        for host, ns in self.names.items():
            ip("netns", "add", ns)
            self.made.append(ns)
            inside, outside = f"eth{host}h{self.tag}", f"eth{host}b{self.tag}"
            ip("link", "add", inside, "netns", ns, "type", "veth", "peer", "name", outside,
               "netns", self.bridge_ns)
            ip("-n", self.bridge_ns, "link", "set", outside, "master", "br0", "up")
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "addr", "add", f"{self.address(host)}/24", "dev", inside)
            ip("-n", ns, "link", "set", inside, "up")

    def direct(self, a: int, b: int) -> None:
        end_a, end_b = f"d{a}{b}a{self.tag}", f"d{a}{b}b{self.tag}"
        ip("link", "add", end_a, "netns", self.names[a], "type", "veth", "peer", "name", end_b,
           "netns", self.names[b])
        self.cables[(a, b)] = (end_a, end_b)
        for here, there, dev in ((a, b, end_a), (b, a, end_b)):
            ns = self.names[here]
            ip("-n", ns, "link", "set", dev, "up")
            ip("-n", ns, "route", "add", "unreachable", f"{self.address(there)}/32", "metric",
               "100")
            ip("-n", ns, "route", "add", f"{self.address(there)}/32", "dev", dev)

    def cut(self, a: int, b: int) -> None:
        """Pull the direct cable between a and b out at a's end (its routes over it go)."""
        end_a, _ = self.cables[(a, b)]
        ip("-n", self.names[a], "link", "set", end_a, "down")

    def mend(self, a: int, b: int) -> None:
        """Plug the cable back in and route over it again."""
        end_a, _ = self.cables[(a, b)]
        ip("-n", self.names[a], "link", "set", end_a, "up")
        ip("-n", self.names[a], "route", "replace", f"{self.address(b)}/32", "dev", end_a)

    def teardown(self) -> None:
        for ns in reversed(self.made):  # deleting a namespace deletes its interfaces
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)
        self.made.clear()

    def start(self, host: int, root: Path, *args: str) -> RunningProcess:
        """``shardkit <args> --root <root>`` as a process of that host."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            ["ip", "netns", "exec", self.names[host], sys.executable, "-m", "shardkit", *args,
             "--root", str(root)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
            start_new_session=True,
        )
        running = RunningProcess(process)
        running.start_reader()
        return running

    def in_host(self, host: int, func: Callable[[], T]) -> T:
        """Run ``func()`` in a thread that lives in the host's namespace; its result or error."""
        result: list[T] = []
        error: list[BaseException] = []

        def body() -> None:
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                fd = os.open(f"/var/run/netns/{self.names[host]}", os.O_RDONLY)
                try:
                    if libc.setns(fd, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns failed")
                finally:
                    os.close(fd)
                result.append(func())
            except BaseException as exc:  # handed to the caller
                error.append(exc)

        thread = threading.Thread(target=body, name=f"host {host}")
        thread.start()
        thread.join()
        if error:
            raise error[0]
        return result[0]
