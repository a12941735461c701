"""The client's plain-Python ``sync`` decoder: the documented example, the zone's own frames,
bad bodies refused, and a client library that needs no numpy."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from shardkit.client.sync import SyncFormatError, decode_sync
from shardkit.content import DEFAULT_CONTENT, load_content
from shardkit.zone.engine import ZoneEngine
from shardkit.zone.sync_format import decode_notification


def documented_example() -> list[bytes]:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "protocol.md").read_text()
    section = doc.split("## Zone sync format", 1)[1].split("\n## ", 1)[0]
    blocks = section.split("### Example", 1)[1].split("```")[1::2]
    return [bytes.fromhex(" ".join(line[:56] for line in block.strip().splitlines()))
            for block in blocks]


def test_the_documented_example_decodes_as_the_doc_says() -> None:
    first, second = documented_example()
    kind, method, (tick, body) = msgspec.msgpack.decode(first)
    assert (kind, method, tick) == (2, "sync", 1)
    ann = decode_sync(body)
    assert ann.enters == [(1, 1, "Ann")]
    assert ann.moves == [(1, 10.5, 20.25)]
    assert ann.stats == [(1, 100, 100, 1, 0)]
    assert ann.leaves == [] and ann.events == []
    _, _, (tick, body) = msgspec.msgpack.decode(second)
    assert tick == 2 and decode_sync(body).moves == [(1, 11.3125, 20.25)]


def test_the_client_reads_what_the_zone_sends_as_the_zone_reads_it() -> None:
    """A busy meadow (players, wolves and boars, fights): every client's every frame."""
    content = load_content(DEFAULT_CONTENT)
    zone = ZoneEngine.for_zone(content, "meadow", rng=random.Random(3))
    rng = random.Random(4)
    players = [zone.join(f"P{i}", x=rng.uniform(300, 700), y=rng.uniform(300, 700))
               for i in range(30)]
    compared = with_events = 0
    for _ in range(60):
        for eid in players:
            zone.sim.set_input(eid, rng.uniform(-1, 1), rng.uniform(-1, 1))
            zone.sim.attack(eid, rng.choice(list(zone.sim.npc_of) or [0]))
        for _eid, payload in zone.tick().frame:
            reference = decode_notification(bytes(payload))
            _, _, (_tick, body) = msgspec.msgpack.decode(payload)
            ours = decode_sync(body)
            assert (ours.enters, ours.leaves, ours.moves, ours.stats, ours.events) == (
                reference.enters, reference.leaves, reference.moves, reference.stats,
                reference.events)
            compared += 1
            with_events += bool(ours.events)
    assert compared == 30 * 60 and with_events > 0


@pytest.mark.parametrize("body", [
    b"", b"\x01\x00",  # no counts
    bytes(10) + b"\x00",  # a byte after the records
    b"\x01\x00" + bytes(8) + b"\x01\x00\x00\x00\x01\x05Ann",  # a name running past the end
    b"\x00\x00\x00\x00\x02\x00" + bytes(4) + bytes(8),  # two moves announced, one there
])
def test_bodies_that_break_the_layout_are_refused(body: bytes) -> None:
    with pytest.raises(SyncFormatError):
        decode_sync(body)


def test_the_client_library_imports_without_numpy() -> None:
    code = ("import sys, shardkit.client.session, shardkit.client.plain.app;"
            " print(sorted(m for m in ('numpy', 'scipy', 'sqlalchemy') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert run.stdout.strip() == "[]"
