"""Two players on a real cluster: register, log in, enter, see and hear each other, come back."""

from __future__ import annotations

import pytest

from shardkit.client.session import GameClient
from shardkit.wire.rpc import RpcError

pytestmark = pytest.mark.cluster


async def test_two_players_meet_talk_and_come_back(cluster) -> None:
    alice = GameClient("127.0.0.1", cluster.master_port)
    bob = GameClient("127.0.0.1", cluster.master_port)
    try:
        await alice.register("alice", "correct horse")
        await bob.register("bob", "battery staple")
        assert (await alice.login("alice", "correct horse")).name == "alice"
        await bob.login("bob", "battery staple")

        worlds = {w.name: w for w in await alice.worlds()}
        assert worlds["Atlantis"].status == "up"
        assert worlds["Atlantis"].capacity == 100

        await alice.enter_world("Atlantis")
        await bob.enter_world("Atlantis")
        await alice.create_character("Alyx")
        await bob.create_character("Borin")
        assert [c.name for c in await alice.characters()] == ["Alyx"]

        alice_in = await alice.enter_game("Alyx")
        bob_in = await bob.enter_game("Borin")
        assert alice_in.zone == bob_in.zone == "town"

        # each sees the other
        await alice.wait_for(lambda s: bob_in.entity_id in s.seen)
        await bob.wait_for(lambda s: alice_in.entity_id in s.seen)

        # the world list shows both players (population comes from daemon heartbeats)
        for _ in range(100):
            if {w.name: w for w in await alice.worlds()}["Atlantis"].population == 2:
                break
            await _tick(alice)
        assert {w.name: w for w in await alice.worlds()}["Atlantis"].population == 2

        # alice walks east; bob sees her x grow
        start_x = bob.state.seen[alice_in.entity_id].x
        alice.move(1.0, 0.0)
        await bob.wait_for(
            lambda s: s.seen.get(alice_in.entity_id) and s.seen[alice_in.entity_id].x > start_x + 2
        )
        alice.move(0.0, 0.0)
        # and bob walks north; alice sees him move
        start_y = alice.state.seen[bob_in.entity_id].y
        bob.move(0.0, 1.0)
        await alice.wait_for(
            lambda s: s.seen.get(bob_in.entity_id) and s.seen[bob_in.entity_id].y > start_y + 2
        )
        bob.move(0.0, 0.0)

        # chat is heard by the other
        alice.say("hello bob")
        await bob.wait_for(lambda s: ("Alyx", "hello bob") in s.chat)
        bob.say("hi alice")
        await alice.wait_for(lambda s: ("Borin", "hi alice") in s.chat)

        # alice logs out where she stands, and comes back to the same place
        await alice.wait_for(lambda s: s.seen.get(alice_in.entity_id) is not None
                             and s.seen[alice_in.entity_id].x > start_x + 2)
        before = alice.me()
        assert before is not None
        await alice.close()
        await bob.wait_for(lambda s: alice_in.entity_id not in s.seen)

        again = GameClient("127.0.0.1", cluster.master_port)
        try:
            await again.login("alice", "correct horse")
            await again.enter_world("Atlantis")
            assert [c.name for c in await again.characters()] == ["Alyx"]
            back = await again.enter_game("Alyx")
            assert back.zone == "town"
            assert back.x == pytest.approx(before.x, abs=1.0)
            assert back.y == pytest.approx(before.y, abs=1.0)
        finally:
            await again.close()
    finally:
        await alice.close()
        await bob.close()


async def _tick(client: GameClient) -> None:
    """Wait for the next snapshot (one zone tick), used to pace a bounded poll."""
    seen = client.state.snapshots
    await client.wait_for(lambda s: s.snapshots > seen, timeout=2.0)


def test_the_cluster_keeps_its_data_private(cluster) -> None:
    """`shardkit up` and every process it runs make the data folder, logs, databases and host key
    readable by their owner only, whatever umask the test runner has (usually 022)."""
    data = cluster.settings.data_dir
    logs = sorted((data / "logs").glob("*.log"))
    assert logs, "no log files"
    found = [data, *data.rglob("*")]
    loose = [f"{path} {path.stat().st_mode & 0o777:03o}" for path in found
             if path.stat().st_mode & 0o077]
    assert loose == []


async def test_wrong_password_is_refused(cluster) -> None:
    client = GameClient("127.0.0.1", cluster.master_port)
    try:
        await client.register("carol", "a long secret")
        with pytest.raises(RpcError) as refused:
            await client.login("carol", "not the secret")
        assert refused.value.code == "auth_failed"
        with pytest.raises(RpcError) as unknown:
            await client.login("nobody_here", "whatever pw")
        assert unknown.value.code == "auth_failed"  # same answer: no hint who exists
        assert (await client.login("carol", "a long secret")).name == "carol"
    finally:
        await client.close()
