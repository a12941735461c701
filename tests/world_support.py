"""Helpers for world-level cluster tests: the daemon's console over telnetlib3's client, players."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import telnetlib3

from shardkit.client.session import GameClient
from shardkit.testing.harness import free_port

WAIT = 20.0


def second_server(zone: str) -> str:
    """World TOML for ``start_cluster(extra_clusters=...)``: WorldServer 1, on this host,
    running ``zone``."""
    return f'[[clusters]]\nnumber = 1\nzones = ["{zone}"]\nruns_on = "local"\n'


def write_imp_only_world(root: Path, name: str = "Lemuria") -> dict[str, int]:
    """A second world's TOML under ``root``, on free ports, whose one WorldServer (zone town)
    runs on an imp nobody starts: its daemon serves, no WorldServer of it does. The ports."""
    ports = {key: free_port() for key in ("world_port", "characters_port", "imp_port",
                                          "console_port")}
    (root / "serverconfig" / "worlds" / f"{name}.toml").write_text(f"""\
name = "{name}"
world_port = 0
ssh_port = 0
zone_base_port = 0
[daemon]
world_port = {ports["world_port"]}
characters_port = {ports["characters_port"]}
imp_port = {ports["imp_port"]}
[daemon.console]
port = {ports["console_port"]}
[[clusters]]
number = 0
zones = ["town"]
runs_on = "imp:nobody"
""")
    return ports


class DaemonTelnet:
    """telnetlib3's telnet client logged in to a daemon's console (7002)."""

    def __init__(self, reader: telnetlib3.TelnetReader, writer: telnetlib3.TelnetWriter) -> None:
        self.reader, self.writer = reader, writer
        self.text = ""

    @classmethod
    async def login(cls, port: int, user: str, password: str) -> DaemonTelnet:
        reader, writer = await asyncio.wait_for(
            telnetlib3.open_connection("127.0.0.1", port, connect_minwait=0.05), WAIT)
        console = cls(reader, writer)  # type: ignore[arg-type]
        await console.read_until("login:")
        console.send(user)
        await console.read_until("password:")
        console.send(password)
        await console.read_until("> ")
        return console

    def send(self, line: str) -> None:
        self.writer.write(line + "\r\n")

    async def read_until(self, marker: str) -> str:
        """Text up to and including ``marker`` (what came before it is consumed)."""
        async with asyncio.timeout(WAIT):
            while marker not in self.text:
                data = await self.reader.read(4096)
                if not data:
                    raise AssertionError(f"console closed before {marker!r}: {self.text!r}")
                self.text += str(data).replace("\r", "")
        at = self.text.index(marker) + len(marker)
        shown, self.text = self.text[:at], self.text[at:]
        return shown

    async def run(self, command: str) -> str:
        """Run one command; its answer (the echo and the next prompt left out)."""
        self.send(command)
        shown = await self.read_until("\n> ")
        lines = shown.split("\n")[:-1]
        if lines and lines[0].strip().endswith(command):
            lines = lines[1:]
        return "\n".join(lines).strip()

    def close(self) -> None:
        self.writer.close()


async def daemon_console(cluster, world: str = "Atlantis") -> DaemonTelnet:  # type: ignore[no-untyped-def]
    console = cluster.settings.worlds[world].daemon.console
    return await DaemonTelnet.login(console.port, console.username,
                                    cluster.settings.secrets.daemon_console_password)


async def player_in_game(cluster, name: str, character: str,  # type: ignore[no-untyped-def]
                         world: str = "Atlantis") -> GameClient:
    client = GameClient("127.0.0.1", cluster.master_port)
    await client.register(name, f"{name} plays on")
    await client.login(name, f"{name} plays on")
    await client.enter_world(world)
    await client.create_character(character)
    entered = await client.enter_game(character)
    await client.wait_for(lambda s: entered.entity_id in s.seen)
    return client


def daemon_log_lines(cluster, world: str = "Atlantis") -> list[str]:  # type: ignore[no-untyped-def]
    """What the daemon logged (INFO lines too), from the log file ``shardkit up`` keeps."""
    path = cluster.settings.data_dir / "logs" / f"daemon-{world}.log"
    text: str = path.read_text(errors="replace")
    return text.splitlines()


def world_server_pid(lines: list[str], world: str = "Atlantis", cluster: int = 0) -> int:
    """The pid of the latest start of a WorldServer, from its daemon's log lines."""
    pattern = re.compile(rf"started world {re.escape(world)}/{cluster} \(pid (\d+)\)")
    for line in reversed(lines):
        match = pattern.search(line)
        if match:
            return int(match.group(1))
    raise AssertionError(f"no start of world server {world}/{cluster} in the output")
