"""GM commands on characters in play, over real sockets in a whole cluster: teleports seen by
players nearby, mutes that end, gold and items given in play that outlive a relog, live
inspection, game masters of other worlds refused, moves only within a WorldServer; each one
in the audit log."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import pytest
from conftest import Cluster, start_cluster
from gm_support import admin_name, code_of, enter_as, entries, game_master, player_in_game
from world_support import second_server

from shardkit.characters.gm_schemas import ItemCount
from shardkit.client.events import ClientState
from shardkit.client.gm import GMClient
from shardkit.client.session import GameClient
from shardkit.wire.rpc import RpcError

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]

SECOND_SERVER = second_server("harbor")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """World Atlantis on two WorldServers: town and meadow on 0, harbor on 1."""
    running = start_cluster(tmp_path_factory.mktemp("gm_live"), extra_clusters=SECOND_SERVER)
    yield running
    code = running.stop()
    assert code == 0, "\n".join(running.up.lines[-40:])


@pytest.fixture
async def gm(cluster: Cluster) -> AsyncIterator[GMClient]:
    """A game master of every world (its own account name in each test)."""
    client = await game_master(cluster, f"Gm{int(time.monotonic() * 1000) % 1_000_000}")
    yield client
    await client.close()


def at(client: GameClient, eid: int, x: float, y: float) -> bool:
    """Whether ``client`` sees entity ``eid`` at (x, y)."""
    seen = client.state.seen.get(eid)
    return seen is not None and (seen.x, seen.y) == (x, y)


def eid_of(client: GameClient) -> int:
    assert client.entered is not None
    return client.entered.entity_id


async def in_zone(client: GameClient, zone: str, x: float, y: float) -> None:
    """Wait until the client entered ``zone`` (a move between zones) and stands at (x, y)."""
    def arrived(state: ClientState) -> bool:
        entered = client.entered
        return entered is not None and entered.zone == zone and at(client, eid_of(client), x, y)
    await client.wait_for(arrived, timeout=20)


async def test_a_teleported_character_is_seen_at_the_new_place(cluster: Cluster,
                                                               gm: GMClient) -> None:
    pawn = await player_in_game(cluster, "Porter", "Ported")
    watcher = await player_in_game(cluster, "Watcher", "Watchful")
    await enter_as(gm.player, "Overseer")  # the game master plays a character too
    try:
        assert (await gm.api.teleport("Watchful", "town", 500, 500)).ok
        await watcher.wait_for(lambda s: at(watcher, eid_of(watcher), 500.0, 500.0))
        assert eid_of(pawn) not in watcher.state.seen  # 400 units from the spawn: out of view
        assert (await gm.api.teleport("ported", "town", 505, 500)).ok
        await watcher.wait_for(lambda s: at(watcher, eid_of(pawn), 505.0, 500.0))  # it came
        await pawn.wait_for(lambda s: at(pawn, eid_of(pawn), 505.0, 500.0)
                            and eid_of(watcher) in s.seen)
        await pawn.wait_for(lambda s: s.saved is not None  # saved there at once
                            and (s.saved.zone, s.saved.x, s.saved.y) == ("town", 505.0, 500.0))

        report = await gm.api.inspect("Ported")  # its live place, not its last save's
        assert report.live is not None and (report.live.zone, report.live.x, report.live.y) \
            == ("town", 505.0, 500.0)
        assert report.live.health > 0 and report.live.muted_until is None

        # to another character, the GM to a character, a character to the GM, the GM itself
        assert (await gm.api.goto("Watchful")).ok
        await watcher.wait_for(lambda s: at(watcher, eid_of(gm.player), 500.0, 500.0))
        assert (await gm.api.teleport("", "town", 300, 200)).ok  # "" : yourself
        await gm.player.wait_for(lambda s: at(gm.player, eid_of(gm.player), 300.0, 200.0))
        assert (await gm.api.summon("Ported")).ok
        await gm.player.wait_for(lambda s: at(gm.player, eid_of(pawn), 300.0, 200.0))
        assert (await gm.api.teleport_to("Watchful", "Ported")).ok
        await pawn.wait_for(lambda s: at(pawn, eid_of(watcher), 300.0, 200.0))

        # to another zone of the same WorldServer: saved there, its client enters it again
        assert (await gm.api.teleport("Ported", "meadow", 640, 320)).ok
        await in_zone(pawn, "meadow", 640.0, 320.0)
        assert pawn.state.portal is not None and pawn.state.portal.portal == "teleport"
        who = await gm.api.who(name="Ported")
        assert [(c.character, c.zone) for c in who.characters] == [("Ported", "meadow")]
        live = (await gm.api.inspect("Ported")).live
        assert live is not None and (live.zone, live.x, live.y) == ("meadow", 640.0, 320.0)
        assert (await gm.api.summon("Ported")).ok  # and back, to the GM in town
        await in_zone(pawn, "town", 300.0, 200.0)
        await gm.player.wait_for(lambda s: eid_of(pawn) in s.seen)

        # refusals say why
        code, why = await code_of(gm.api.teleport("Ported", "town", 5000, 10))
        assert code == "out_of_bounds" and "(5000.0, 10.0) is not in zone town" in why
        code, why = await code_of(gm.api.teleport("Ported", "nowhere", 10, 10))
        assert code == "other_server" and "zone 'nowhere' is not run by world server" in why
        code, why = await code_of(gm.api.teleport("Nobody", "town", 10, 10))
        assert code == "not_online" and "nobody called 'Nobody' is online" in why

        log = await entries(gm.api, action="teleport", actor=f"gm:{admin_name(gm)}")
        assert [(e.target, e.result, e.detail.get("zone")) for e in log][:6] == [
            ("Nobody", "failed", None), ("Atlantis/Ported", "failed", "nowhere"),
            ("Atlantis/Ported", "failed", "town"), ("Atlantis/Ported", "ok", "meadow"),
            ("Atlantis/Overseer", "ok", "town"), ("Atlantis/Ported", "ok", "town")]
        assert log[1].detail["error"] == "other_server" and log[1].address == "127.0.0.1"
        summons = await entries(gm.api, action="summon")
        assert [(e.target, e.result) for e in summons][:2] == [
            ("Atlantis/Ported", "ok"), ("Atlantis/Ported", "ok")]
    finally:
        for client in (pawn, watcher):
            await client.close()


async def test_a_muted_player_is_not_heard_and_is_told_until_the_mute_ends(cluster: Cluster,
                                                                          gm: GMClient) -> None:
    loud = await player_in_game(cluster, "Loudmouth", "Shouty")
    ear = await player_in_game(cluster, "Listener", "Earful")
    try:
        assert (await gm.api.teleport("Earful", "town", 700, 700)).ok  # with Shouty, alone
        assert (await gm.api.teleport("Shouty", "town", 702, 700)).ok
        await ear.wait_for(lambda s: eid_of(loud) in s.seen)

        started = time.time()
        assert (await gm.api.mute("Shouty", 3, "spamming the town")).ok
        muted = await loud.wait_for(lambda s: s.muted)  # told, with the reason
        assert muted.reason == "spamming the town" and started + 2.5 < muted.until < time.time() + 3
        code, why = await code_of(loud.zone_say("buy gold at example.com"))
        assert code == "muted" and "spamming the town" in why  # told again when it talks
        loud.say("anyone?")
        await loud.wait_for(lambda s: any(code == "muted" for code, _ in s.errors))
        ear.say("marker")  # after Shouty's lines in the zone's order: they were dropped
        await ear.wait_for(lambda s: ("Earful", "marker") in s.chat)
        await loud.wait_for(lambda s: ("Earful", "marker") in s.chat)  # a muted one hears
        assert [text for who, text in ear.state.chat if who == "Shouty"] == []
        live = (await gm.api.inspect("Shouty")).live
        assert live is not None and live.muted_until == muted.until
        assert live.mute_reason == "spamming the town"

        await loud.wait_for(lambda s: s.muted is None, timeout=15)  # the mute ran out: told
        assert time.time() >= muted.until
        await loud.zone_say("sorry about that")
        await ear.wait_for(lambda s: ("Shouty", "sorry about that") in s.chat)

        assert (await gm.api.mute("Shouty", 3600, "again")).ok  # a long one, lifted by hand
        await loud.wait_for(lambda s: s.muted is not None and s.muted.reason == "again")
        assert (await gm.api.unmute("Shouty")).ok
        await loud.wait_for(lambda s: s.muted is None)
        loud.say("thanks")
        await ear.wait_for(lambda s: ("Shouty", "thanks") in s.chat)
        code, why = await code_of(gm.api.mute("Shouty", 0, "no time"))
        assert code == "bad_params" and "duration_s" in why

        log = await entries(gm.api, target="Atlantis/Shouty")
        assert [(e.action, e.result) for e in log if e.action in ("mute", "unmute")] == [
            ("unmute", "ok"), ("mute", "ok"), ("mute", "ok")]
        refused = (await entries(gm.api, action="mute", target="Shouty"))[0]
        assert (refused.result, refused.detail["error"]) == ("failed", "bad_params")
        first = [e for e in log if e.action == "mute"][-1]
        assert first.detail["duration_s"] == 3 and first.detail["reason"] == "spamming the town"
    finally:
        for client in (loud, ear):
            await client.close()


async def test_gold_and_items_given_in_play_reach_the_character_and_outlive_a_relog(
        cluster: Cluster, gm: GMClient) -> None:
    rich = await player_in_game(cluster, "Richie", "Moneybags")
    try:
        given = await gm.api.grant("Moneybags", gold=40,
                                   items=[ItemCount("wolf_pelt", 3), ItemCount("healing_herb", 1)])
        assert (given.world, given.name, given.gold) == ("Atlantis", "Moneybags", 40)
        assert [(i.item, i.count) for i in given.items] == [("healing_herb", 1), ("wolf_pelt", 3)]
        await rich.wait_for(lambda s: s.progress.gold == 40
                            and s.progress.items == {"wolf_pelt": 3, "healing_herb": 1})
        await rich.wait_for(lambda s: s.saved is not None and s.saved.version == given.version)

        taken = await gm.api.take("Moneybags", gold=15, items=[ItemCount("wolf_pelt", 1)])
        assert (taken.gold, taken.version) == (25, given.version + 1)
        await rich.wait_for(lambda s: s.progress.gold == 25 and s.progress.items["wolf_pelt"] == 2)
        code, why = await code_of(gm.api.take("Moneybags", gold=26))
        assert (code, why) == ("not_enough", "Moneybags has 25 gold; cannot take 26")
        code, why = await code_of(gm.api.take("Moneybags", items=[ItemCount("healing_herb", 2)]))
        assert (code, why) == ("not_enough", "Moneybags has 1 healing_herb; cannot take 2")
        code, _ = await code_of(gm.api.grant("Moneybags", items=[ItemCount("moon_rock", 1)]))
        assert code == "no_such_item"
        assert rich.state.progress.gold == 25  # a refused change changes nothing

        assert await rich.leave_game()  # relog: the zone loads what was saved
        entered = await rich.enter_game("Moneybags")
        assert (entered.gold, sorted(entered.items)) == (25, [("healing_herb", 1),
                                                              ("wolf_pelt", 2)])
        assert await rich.leave_game()
        stored = (await gm.api.inspect("Moneybags")).stored  # out of play: its saved state
        assert not stored.in_play and stored.gold == 25
        assert sorted((i.item, i.count) for i in stored.items) == [("healing_herb", 1),
                                                                    ("wolf_pelt", 2)]
        offline = await gm.api.take("Moneybags", items=[ItemCount("wolf_pelt", 2)])  # the zone's
        assert [(i.item, i.count) for i in offline.items] == [("healing_herb", 1)]  # format

        log = await entries(gm.api, target="Atlantis/Moneybags")
        assert [(e.action, e.result, e.detail.get("in_play"), e.detail.get("gold"))
                for e in log if e.action in ("grant", "take")] == [
            ("take", "ok", None, 0), ("grant", "failed", True, 0), ("take", "failed", True, 0),
            ("take", "failed", True, -26), ("take", "ok", True, -15), ("grant", "ok", True, 40)]
        assert log[0].detail["gold_now"] == 25
    finally:
        await rich.close()


async def test_a_game_master_of_another_world_is_refused_in_play(cluster: Cluster,
                                                                 gm: GMClient) -> None:
    target = await player_in_game(cluster, "Faraway", "Distant")
    lem = await game_master(cluster, "Lemurian")
    admin = await game_master(cluster, "Adminna", "admin")
    try:
        assert (await admin.api.set_worlds("Lemurian", ["Lemuria"])).worlds == ["Lemuria"]
        for refused in (lem.api.teleport("Distant", "town", 10, 10), lem.api.summon("Distant"),
                        lem.api.teleport_to("Distant", "Distant"),
                        lem.api.mute("Distant", 60, "x"), lem.api.unmute("Distant"),
                        lem.api.grant("Distant", gold=5), lem.api.take("Distant", gold=1),
                        lem.api.inspect("Distant")):
            code, why = await code_of(refused)
            assert code == "forbidden" and "Atlantis/Distant is in world Atlantis" in why, why
        code, why = await code_of(lem.api.teleport("Distant", "town", 10, 10, world="Atlantis"))
        assert (code, why) == ("forbidden",
                               "world Atlantis is outside the worlds of Lemurian (Lemuria)")
        assert target.me() is not None and target.state.muted is None  # nothing happened
        assert target.state.progress.gold == 0

        log = await entries(admin.api, actor="gm:Lemurian")
        assert {(e.action, e.result) for e in log} >= {
            ("teleport", "refused"), ("summon", "refused"), ("mute", "refused"),
            ("unmute", "refused"), ("grant", "refused"), ("take", "refused")}
        assert all(e.detail["error"] == "forbidden" for e in log if e.result == "refused")
        assert (await gm.api.teleport("Distant", "town", 10, 10)).ok  # a gm of every world may
    finally:
        await target.close()
        for client in (lem, admin):
            await client.close()


async def test_nothing_to_do_for_a_character_out_of_play(cluster: Cluster,
                                                         gm: GMClient) -> None:
    resting = await player_in_game(cluster, "Sleeper", "Dozer", enter=False)
    try:
        for refused in (gm.api.teleport("Dozer", "town", 10, 10), gm.api.mute("Dozer", 60, "x")):
            code, why = await code_of(refused)
            assert code == "not_online" and "nobody called 'Dozer' is online" in why
        code, why = await code_of(gm.api.teleport("Sleeper", "town", 10, 10))  # choosing one
        assert (code, why) == ("not_in_game", "Sleeper has no character in play")
        with pytest.raises(RpcError) as no_own:
            await gm.api.teleport("", "town", 10, 10)  # the GM plays no character
        assert no_own.value.code == "not_in_game"
    finally:
        await resting.close()


async def test_a_character_is_moved_only_within_its_world_server(cluster: Cluster,
                                                                 gm: GMClient) -> None:
    lander = await player_in_game(cluster, "Landlubber", "Lander")
    sailor = await player_in_game(cluster, "Seafarer", "Sailor", server=1)
    try:
        assert sailor.entered is not None and sailor.entered.zone == "harbor"
        assert (await gm.api.teleport("Sailor", "harbor", 20, 30)).ok  # on WorldServer 1
        await sailor.wait_for(lambda s: at(sailor, eid_of(sailor), 20.0, 30.0))
        live = (await gm.api.inspect("Sailor")).live
        assert live is not None and (live.zone, live.x, live.y) == ("harbor", 20.0, 30.0)

        code, why = await code_of(gm.api.teleport("Lander", "harbor", 20, 30))
        assert (code, why) == ("other_server", "zone 'harbor' is not run by world server"
                               " Atlantis/0 (its zones: town, meadow); a character is moved"
                               " only between the zones of the world server it plays on")
        code, why = await code_of(gm.api.teleport_to("Lander", "Sailor"))
        assert (code, why) == ("other_server", "Lander plays on world server Atlantis/0 and"
                               " Sailor on Atlantis/1; a character is moved only between the"
                               " zones of the world server it plays on")
        assert lander.entered is not None and lander.entered.zone == "town"  # it stayed
        assert lander.state.portal is None

        log = await entries(gm.api, action="teleport_to", target="Atlantis/Lander")
        assert (log[0].result, log[0].detail["error"]) == ("failed", "other_server")
    finally:
        for client in (lander, sailor):
            await client.close()
