"""Chat channels across a world of two WorldServers, mutes, and the WorldServer's SSH console.

One cluster for the module: the shipped content, WorldServer 0 running town and meadow,
WorldServer 1 running harbor; each WorldServer's SSH console listens on 127.0.0.1 and
allows 127.0.0.1/32 only. The console is driven with the stock OpenSSH client.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from conftest import Cluster, start_cluster
from world_support import second_server

from shardkit.client.session import GameClient
from shardkit.wire.rpc import RpcError

PASSWORD = "chat test password"
SECOND_SERVER = second_server("harbor")
pytestmark = pytest.mark.asyncio(loop_scope="module")  # the players live for the module

CONSOLE = """
[ssh]
host = "127.0.0.1"
allowed_ips = ["127.0.0.1/32"]
"""


@pytest.fixture(scope="module")
def chat_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = start_cluster(tmp_path_factory.mktemp("zone_chat"), extra_clusters=SECOND_SERVER,
                            world_extra=CONSOLE)
    yield running
    code = running.stop()
    assert code == 0, "\n".join(running.up.lines[-40:])


async def player(cluster: Cluster, account: str, cluster_number: int = 0) -> GameClient:
    """A new account playing a character named after it on WorldServer ``cluster_number``."""
    client = GameClient("127.0.0.1", cluster.master_port)
    await client.register(account, PASSWORD)
    await client.login(account, PASSWORD)
    port = cluster.announced_port(f"world Atlantis/{cluster_number}") if cluster_number else None
    await client.enter_world("Atlantis", port=port, cluster=cluster_number)
    character = account.capitalize()
    await client.create_character(character)
    await client.enter_game(character)
    await client.wait_for(lambda s: client.me() is not None)
    return client


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def players(chat_cluster: Cluster) -> AsyncIterator[dict[str, GameClient]]:
    """Ann, Bob and Cid in town (WorldServer 0), Dan in harbor (WorldServer 1)."""
    made = {name: await player(chat_cluster, name) for name in ("chatann", "chatbob", "chatcid")}
    made["chatdan"] = await player(chat_cluster, "chatdan", cluster_number=1)
    yield made
    for client in made.values():
        await client.close()


def heard(client: GameClient, speaker: str, text: str, channel: str) -> bool:
    return any(h == (channel, speaker, text) for h in client.state.heard)


async def refused(code: str, call: object) -> None:
    with pytest.raises(RpcError) as raised:
        await call  # type: ignore[misc]
    assert raised.value.code == code, raised.value


# --------------------------------------------------------------------- ssh console


def _askpass(tmp: Path, password: str) -> dict[str, str]:
    askpass = tmp / "askpass.sh"
    askpass.write_text(f"#!/bin/sh\necho '{password}'\n", encoding="utf-8")
    askpass.chmod(0o700)
    return dict(os.environ, SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force",
                DISPLAY=":0")


async def ssh(cluster: Cluster, command: str, *, source: str = "127.0.0.1",
              number: int = 0) -> tuple[int, str]:
    """Run one console command with the stock OpenSSH client; (exit code, output)."""
    port = cluster.announced_port(f"world Atlantis/{number} console (ssh)")
    env = _askpass(cluster.root, cluster.settings.secrets.world_console_password)
    proc = await asyncio.create_subprocess_exec(
        "ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5",
        "-o", "NumberOfPasswordPrompts=1", "-b", source, "-p", str(port),
        f"{cluster.settings.worlds['Atlantis'].ssh.username}@127.0.0.1", command,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
        start_new_session=True)  # no controlling tty: the password comes from askpass
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode("utf-8", errors="replace")


def _openssh_with_askpass() -> bool:
    """OpenSSH client present and new enough for SSH_ASKPASS_REQUIRE (8.4+)."""
    path = shutil.which("ssh")
    if path is None:
        return False
    version = subprocess.run([path, "-V"], capture_output=True, text=True, timeout=10).stderr
    match = re.search(r"OpenSSH_(\d+)\.(\d+)", version)
    return bool(match) and (int(match[1]), int(match[2])) >= (8, 4)


needs_openssh = pytest.mark.skipif(
    not _openssh_with_askpass() and os.environ.get("CI") != "true",
    reason="needs the OpenSSH client >= 8.4 (scripts/test installs openssh-client)")


# --------------------------------------------------------------------------- tests


@needs_openssh
async def test_say_is_heard_nearby_zone_chat_zone_wide_world_chat_everywhere(
        chat_cluster: Cluster, players: dict[str, GameClient]) -> None:
    ann, bob, cid, dan = (players[n] for n in ("chatann", "chatbob", "chatcid", "chatdan"))
    code, out = await ssh(chat_cluster, "teleport Chatcid 600 600")  # far from the spawn area
    assert code == 0 and "Chatcid is at (600, 600) in town" in out, out
    await cid.wait_for(lambda s: (me := cid.me()) is not None and me.x == 600.0)

    ann.say("hello nearby")
    await bob.wait_for(lambda s: heard(bob, "Chatann", "hello nearby", "say"))
    await ann.zone_say("hello town")
    for client in (bob, cid):
        await client.wait_for(lambda s, c=client: heard(c, "Chatann", "hello town", "zone"))
    assert not heard(cid, "Chatann", "hello nearby", "say")  # said first: it never came
    assert not heard(dan, "Chatann", "hello town", "zone")  # another zone, another server

    await ann.world_say("hello world")
    for client in (ann, bob, cid, dan):  # dan plays on WorldServer 1
        await client.wait_for(lambda s, c=client: heard(c, "Chatann", "hello world", "world"))


async def test_whispers_reach_a_character_on_another_world_server(
        chat_cluster: Cluster, players: dict[str, GameClient]) -> None:
    ann, dan = players["chatann"], players["chatdan"]
    await ann.whisper("chatDAN", "psst, over in the harbor?")
    await dan.wait_for(lambda s: heard(dan, "Chatann", "psst, over in the harbor?", "whisper"))
    await dan.whisper("Chatann", "yes, come over")
    await ann.wait_for(lambda s: heard(ann, "Chatdan", "yes, come over", "whisper"))
    assert not any(h.channel == "whisper" for h in players["chatbob"].state.heard)
    with pytest.raises(RpcError) as offline:
        await ann.whisper("Nobodyhome", "hello?")
    assert offline.value.code == "offline" and "nobody" in offline.value.message


@needs_openssh
async def test_a_muted_character_is_told_and_its_chat_dropped(
        chat_cluster: Cluster, players: dict[str, GameClient]) -> None:
    ann, bob = players["chatann"], players["chatbob"]
    code, out = await ssh(chat_cluster, "mute Chatbob 10 flooding the square")
    assert code == 0 and "muted Chatbob for 10 minutes" in out, out
    await bob.wait_for(lambda s: s.muted is not None and s.muted.reason == "flooding the square")
    bob.say("you cannot stop me")
    await bob.wait_for(lambda s: any(code == "muted" for code, _ in s.errors))
    await refused("muted", bob.world_say("nor here"))
    await refused("muted", bob.whisper("Chatann", "nor in private"))
    ann.say("marker after bob")  # the zone took bob's line first: had it passed, ann has it
    await ann.wait_for(lambda s: heard(ann, "Chatann", "marker after bob", "say"))
    assert not any(h.speaker == "Chatbob" for h in ann.state.heard)

    code, out = await ssh(chat_cluster, "unmute Chatbob")
    assert code == 0 and "unmuted Chatbob" in out, out
    await bob.wait_for(lambda s: s.muted is None)
    bob.say("free again")
    await ann.wait_for(lambda s: heard(ann, "Chatbob", "free again", "say"))


@needs_openssh
async def test_the_world_console_over_openssh_lists_kicks_and_refuses_strangers(
        chat_cluster: Cluster, players: dict[str, GameClient]) -> None:
    code, out = await ssh(chat_cluster, "players")
    assert code == 0, out
    assert re.search(r"chatann\s+Chatann in town at \([\d.]+, [\d.]+\), level 1, hp 100/100",
                     out), out
    assert "chatdan" not in out  # on the other WorldServer
    code, out = await ssh(chat_cluster, "players", number=1)
    assert code == 0 and "Chatdan in harbor" in out, out
    code, out = await ssh(chat_cluster, "zones")
    assert code == 0 and re.search(r"town: \d+ players, 0 NPCs, .*p50 [\d.]+ ms p99 [\d.]+ ms",
                                   out), out
    assert re.search(r"meadow: 0 players, 70 NPCs", out), out

    cid = players["chatcid"]
    code, out = await ssh(chat_cluster, "kick chatcid misbehaving")
    assert code == 0 and "kicked chatcid" in out, out
    await cid.wait_for(lambda s: s.kicked == "misbehaving")
    code, out = await ssh(chat_cluster, "players")
    assert "chatcid" not in out, out

    code, out = await ssh(chat_cluster, "players", source="127.0.0.2")  # not an allowed address
    assert code != 0 and "chatann" not in out, out
