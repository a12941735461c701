"""A zone server in-process over loopback: its administration methods, chat rules, slow clients.

The zone (tests/zone_content, zone ``arena``) runs in the test's event loop against a
stand-in WorldServer (tests/zone_support.py) that calls the administration methods as a
WorldServer does. Players are GameClients over real sockets.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from zone_support import ZoneRig

from shardkit.client.session import GameClient
from shardkit.wire.rpc import RpcError
from shardkit.zone.admin_schemas import GrantCharacter
from shardkit.zone.progress import MUTE_KEY
from shardkit.zone.roster import Player

pytestmark = pytest.mark.timeout(60)


def names_seen(client: GameClient) -> set[str]:
    return {seen.name for seen in client.state.seen.values()}


async def refused(code: str, call: object) -> RpcError:
    with pytest.raises(RpcError) as raised:
        await call  # type: ignore[misc]
    assert raised.value.code == code, raised.value
    return raised.value


async def test_status_players_and_inspect(tmp_path: Path) -> None:
    async with ZoneRig(tmp_path) as rig:
        ann, bob = await rig.player("Ann"), await rig.player("Bob")
        await ann.wait_for(lambda s: s.snapshots >= 3)
        status = await rig.admin.status()
        assert (status.zone, status.players, status.npcs) == ("arena", 2, 3)
        assert status.tick > 0 and status.tick_hz == 20.0
        assert 0 < status.tick_p50_ms <= status.tick_p99_ms

        rows = await rig.admin.players()
        assert [r.name for r in rows] == ["Ann", "Bob"]
        for row in rows:  # new characters: a free point of the spawn area, full health
            assert 10 <= row.x <= 30 and 10 <= row.y <= 30
            assert (row.level, row.hp, row.max_hp) == (1, 100, 100)
        assert abs(rows[0].x - rows[1].x) + abs(rows[0].y - rows[1].y) > 1.0

        ann_live = await rig.admin.inspect("aNN")  # any letter case
        assert ann.entered is not None and ann_live.entity_id == ann.entered.entity_id
        assert (ann_live.gold, ann_live.items, ann_live.dead, ann_live.muted_until) == (
            0, [], False, 0.0)
        await refused("not_here", rig.admin.inspect("Nobody"))
        assert bob.entered is not None


async def test_mute_drops_chat_and_tells_the_character_until_unmuted(tmp_path: Path) -> None:
    async with ZoneRig(tmp_path) as rig:
        ann, bob = await rig.player("Ann"), await rig.player("Bob")
        rig.world.online = {"bob"}
        await rig.admin.mute("Ann", time.time() + 600, "spamming")
        await ann.wait_for(lambda s: s.muted is not None and s.muted.reason == "spamming")

        ann.say("can you hear me")  # a notification: the refusal comes as an `error`
        await ann.wait_for(lambda s: any(code == "muted" for code, _ in s.errors))
        assert "spamming" in ann.state.errors[-1][1]
        await refused("muted", ann.zone_say("zone-wide"))
        await refused("muted", ann.world_say("world-wide"))
        await refused("muted", ann.whisper("Bob", "psst"))
        bob.say("marker")  # after Ann's line in the zone's order: heard means Ann's was dropped
        await bob.wait_for(lambda s: ("Bob", "marker") in s.chat)
        await ann.wait_for(lambda s: ("Bob", "marker") in s.chat)  # a muted one still hears
        assert [t for who, t in bob.state.chat if who == "Ann"] == []
        assert rig.world.world_lines == [] and rig.world.whispers == []

        live = await rig.admin.inspect("Ann")
        assert live.muted_until > time.time() and live.mute_reason == "spamming"
        await ann.wait_for(lambda s: s.saved is not None)  # the mute is saved with it
        assert rig.world.characters["ann"].data["mute"][1] == "spamming"

        assert (await rig.admin.unmute("Ann")).ok
        await ann.wait_for(lambda s: s.muted is None)
        assert not (await rig.admin.unmute("Ann")).ok  # it was not muted any more
        ann.say("back again")
        await bob.wait_for(lambda s: ("Ann", "back again") in s.chat)
        await refused("bad_params", rig.admin.mute("Ann", time.time() - 1, "in the past"))


async def test_teleport_moves_the_view_at_once(tmp_path: Path) -> None:
    async with ZoneRig(tmp_path) as rig:
        ann, bob = await rig.player("Ann"), await rig.player("Bob")
        assert bob.entered is not None
        bob_id = bob.entered.entity_id
        await ann.wait_for(lambda s: bob_id in s.seen)
        assert "Sentinel" not in names_seen(bob)  # 140 units away: out of view
        await rig.admin.teleport("Bob", 165.0, 25.0)
        await bob.wait_for(lambda s: "Sentinel" in names_seen(bob))
        me = bob.me()
        assert me is not None and (me.x, me.y) == (165.0, 25.0)
        await ann.wait_for(lambda s: bob_id not in s.seen)  # told Bob left its view
        await refused("out_of_bounds", rig.admin.teleport("Bob", 500.0, 25.0))
        await refused("not_here", rig.admin.teleport("Nobody", 5.0, 5.0))


async def test_a_mute_that_runs_out_is_told_and_chat_is_heard_again(tmp_path: Path) -> None:
    async with ZoneRig(tmp_path) as rig:
        ann, bob = await rig.player("Ann"), await rig.player("Bob")
        until = time.time() + 1.0
        await rig.admin.mute("Ann", until, "cool down")
        await ann.wait_for(lambda s: s.muted is not None and s.muted.until == until)
        await refused("muted", ann.zone_say("still here?"))
        await ann.wait_for(lambda s: s.muted is None, timeout=10)  # told when it runs out
        assert time.time() >= until
        await ann.zone_say("free again")
        await bob.wait_for(lambda s: ("Ann", "free again") in s.chat)
        assert (await rig.admin.inspect("Ann")).muted_until == 0.0


async def test_a_mute_saved_on_the_character_is_told_at_entry_and_when_it_runs_out(
        tmp_path: Path) -> None:
    async with ZoneRig(tmp_path) as rig:
        until = time.time() + 1.0
        ann = await rig.player("Ann", data={MUTE_KEY: [until, "still cooling down"]})
        await ann.wait_for(lambda s: s.muted is not None)  # told at entry, with why
        told = ann.state.muted
        assert told is not None and (told.until, told.reason) == (until, "still cooling down")
        await refused("muted", ann.zone_say("let me talk"))
        await ann.wait_for(lambda s: s.muted is None, timeout=10)  # and told when it ends
        assert time.time() >= until
        await ann.zone_say("free again")


async def test_teleport_to_another_zone_of_the_world_server_saves_it_there(
        tmp_path: Path) -> None:
    async with ZoneRig(tmp_path) as rig:
        bob = await rig.player("Bob")
        await refused("out_of_bounds", rig.admin.teleport("Bob", 150.0, 20.0, "field"))
        why = await refused("other_server", rig.admin.teleport("Bob", 5.0, 5.0, "isle"))
        assert "not one of this WorldServer's zones (arena, field)" in why.message
        assert (await rig.admin.teleport("Bob", 70.0, 30.0, "field")).ok
        portal = await bob.wait_for(lambda s: s.portal)  # its client would enter field now
        assert (portal.portal, portal.zone, portal.x, portal.y, portal.moved) == (
            "teleport", "field", 70.0, 30.0, True)
        saved = rig.world.characters["bob"]
        assert (saved.zone, saved.x, saved.y) == ("field", 70.0, 30.0)
        await refused("not_here", rig.admin.inspect("Bob"))


async def test_grant_and_take_gold_and_items_never_below_zero(tmp_path: Path) -> None:
    async with ZoneRig(tmp_path) as rig:
        ann = await rig.player("Ann")
        live = await rig.admin.grant(GrantCharacter("Ann", 10, {"token": 3}))
        assert (live.gold, live.items) == (10, [("token", 3)])
        await ann.wait_for(lambda s: s.progress.gold == 10 and s.progress.items == {"token": 3})
        await refused("not_enough", rig.admin.grant(GrantCharacter("Ann", -11)))
        await refused("not_enough", rig.admin.grant(GrantCharacter("Ann", 0, {"token": -4})))
        await refused("no_such_item", rig.admin.grant(GrantCharacter("Ann", 1, {"gem": 1})))
        live = await rig.admin.grant(GrantCharacter("Ann", -10, {"token": -1}))
        assert (live.gold, live.items) == (0, [("token", 2)])
        await ann.wait_for(lambda s: s.saved is not None and s.progress.gold == 0)
        await ann.wait_for(lambda s: rig.world.characters["ann"].inventory == [["token", 2]])


async def test_broadcast_and_spawned_npcs(tmp_path: Path) -> None:
    async with ZoneRig(tmp_path) as rig:
        ann, bob = await rig.player("Ann"), await rig.player("Bob")
        await rig.admin.broadcast("the arena closes\nsoon")
        for client in (ann, bob):
            await client.wait_for(lambda s: "the arena closes soon" in s.notices)
        dummies = sum(1 for s in ann.state.seen.values() if s.name == "Training Dummy")
        spawned = await rig.admin.spawn_npc("dummy", 20.0, 20.0)
        await ann.wait_for(lambda s: spawned.entity_id in s.seen)
        assert ann.state.seen[spawned.entity_id].name == "Training Dummy"
        assert sum(1 for s in ann.state.seen.values() if s.name == "Training Dummy") == dummies + 1
        await refused("no_such_kind", rig.admin.spawn_npc("dragon", 20.0, 20.0))
        await refused("out_of_bounds", rig.admin.spawn_npc("dummy", -1.0, 20.0))


async def test_say_is_heard_within_the_radius_zone_chat_everywhere(tmp_path: Path) -> None:
    async with ZoneRig(tmp_path) as rig:
        ann, bob, cid = await rig.player("Ann"), await rig.player("Bob"), await rig.player("Cid")
        await rig.admin.teleport("Cid", 150.0, 150.0)  # far beyond the say radius (30)
        ann.say("near")
        await bob.wait_for(lambda s: ("Ann", "near") in s.chat)
        await ann.zone_say("everyone")
        await cid.wait_for(lambda s: ("Ann", "everyone") in s.chat)
        assert ("Ann", "near") not in cid.state.chat  # said before, queued before: never came
        assert cid.state.heard[-1].channel == "zone" and bob.state.heard[0].channel == "say"
        await refused("bad_params", ann.chat("shout", "loud"))


async def test_world_chat_and_whispers_go_to_the_world(tmp_path: Path) -> None:
    async with ZoneRig(tmp_path) as rig:
        ann = await rig.player("Ann")
        rig.world.online = {"zed"}
        await ann.world_say("hello\x1b[2J world")
        await ann.whisper("zed", "psst")
        assert [(w.speaker, w.text) for w in rig.world.world_lines] == [("Ann", "hello world")]
        assert [(w.speaker, w.to, w.text) for w in rig.world.whispers] == [("Ann", "zed", "psst")]
        await refused("offline", ann.whisper("Nobodyhere", "hello?"))
        await refused("offline", ann.whisper("x" * 40, "hello?"))


async def test_a_speed_hack_is_corrected_and_counted(tmp_path: Path) -> None:
    async with ZoneRig(tmp_path) as rig:
        ann = await rig.player("Ann")
        start = ann.me()
        assert start is not None
        ann.claim_position(start.x + 0.5, start.y)  # within tolerance: nothing to say
        ann.claim_position(start.x + 100.0, start.y)  # a teleport the zone never allowed
        await ann.wait_for(lambda s: s.corrections == 1)
        assert ann.state.corrected == pytest.approx((start.x, start.y), abs=0.1)
        me = ann.me()
        assert me is not None and (me.x, me.y) == (start.x, start.y)
        assert (await rig.admin.inspect("Ann")).strikes == 1


def holding(rig: ZoneRig, name: str) -> None:
    """Make the zone see ``name``'s connection as one that cannot take more."""
    player = rig.server.roster.named(name)
    assert player is not None

    def backlog(other: Player) -> int:
        return 10**9 if other is player else 0

    rig.server.ticker.backlog = backlog


async def test_a_held_client_gets_the_latest_state_not_a_backlog(tmp_path: Path) -> None:
    async with ZoneRig(tmp_path) as rig:
        ann, bob = await rig.player("Ann"), await rig.player("Bob")
        assert bob.entered is not None
        bob_id = bob.entered.entity_id
        await ann.wait_for(lambda s: bob_id in s.seen)
        holding(rig, "Ann")
        await bob.wait_for(lambda s: s.snapshots > 0)
        held_at, syncs = ann.state.tick, ann.state.snapshots
        bob.move(0.0, 1.0)
        await bob.wait_for(lambda s: s.tick >= held_at + 10)
        bob.move(0.0, 0.0)
        assert ann.state.snapshots <= syncs + 1  # nothing (or the one under way) meanwhile
        await bob.wait_for(lambda s: s.tick >= held_at + 14)  # stopped for a few ticks
        where = bob.me()
        rig.server.ticker.backlog = lambda other: 0
        await ann.wait_for(lambda s: s.snapshots > syncs + 1)
        assert ann.state.tick > held_at + 10  # it skipped ahead: no tick-by-tick backlog
        assert ann.state.snapshots <= syncs + 3
        seen = ann.state.seen[bob_id]
        assert where is not None and (seen.x, seen.y) == (where.x, where.y)


async def test_a_client_held_too_long_is_saved_and_disconnected(tmp_path: Path) -> None:
    async with ZoneRig(tmp_path) as rig:
        ann = await rig.player("Ann")
        version = rig.world.characters["ann"].version
        holding(rig, "Ann")
        await ann.wait_for(lambda s: s.kicked is not None, timeout=15)  # 50 ticks at 20 Hz
        assert ann.state.kicked is not None and "too far behind" in ann.state.kicked
        assert ann.zone is not None
        await ann.zone.wait_closed()
        assert rig.world.characters["ann"].version == version + 1  # saved on the way out
        assert (await rig.admin.status()).players == 0


async def test_portals_move_within_the_world_server_and_report_others(tmp_path: Path) -> None:
    async with ZoneRig(tmp_path) as rig:
        ann = await rig.player("Ann")
        await rig.admin.teleport("Ann", 186.0, 195.0)  # beside the boat to "isle"
        await ann.wait_for(lambda s: (me := ann.me()) is not None and me.x == 186.0)
        ann.move(1.0, 0.0)
        await ann.wait_for(lambda s: s.portal is not None)
        ann.move(0.0, 0.0)
        assert ann.state.portal is not None
        assert (ann.state.portal.zone, ann.state.portal.moved) == ("isle", False)  # elsewhere
        assert ann.zone is not None and not ann.zone.closed.is_set()  # still playing here

        await rig.admin.teleport("Ann", 9.0, 45.0)  # beside the west door to "field"
        await ann.wait_for(lambda s: (me := ann.me()) is not None and me.x == 9.0)
        ann.move(-1.0, 0.0)
        await ann.wait_for(lambda s: s.portal is not None and s.portal.moved)
        await ann.zone.wait_closed()
        saved = rig.world.characters["ann"]
        assert (saved.zone, saved.x, saved.y) == ("field", 50.0, 50.0)  # saved over there
        assert (await rig.admin.status()).players == 0


async def test_a_mute_is_over_only_when_its_time_has_come_even_if_the_timer_fires_early(
        tmp_path: Path) -> None:
    async with ZoneRig(tmp_path) as rig:
        ann = await rig.player("Ann")
        start = time.time()

        def slow() -> float:
            """A zone clock at 90% speed: the loop's timer fires before this says the time."""
            return start + (time.time() - start) * 0.9

        rig.server.admin.clock = slow
        until = slow() + 0.3
        assert (await rig.admin.mute("Ann", until, "testing")).ok
        await ann.wait_for(lambda s: s.muted is not None)
        await ann.wait_for(lambda s: s.muted is None, timeout=5)
        assert slow() >= until  # told only once the zone's clock reached the end
