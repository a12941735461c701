"""GM commands in a whole cluster, over real sockets: allowed or refused by role and by world,
kicks, bans until expiry, gold for an offline character, rate limits, and every one audited."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from conftest import Cluster
from gm_support import (
    PASSWORD,
    admin_name,
    all_closed,
    code_of,
    entries,
    game_master,
    player_in_game,
    register_role,
)

from shardkit.characters.gm_schemas import ItemCount
from shardkit.client.gm import GMClient
from shardkit.client.session import GameClient
from shardkit.wire.rpc import RpcError

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


@pytest.fixture
async def admin(cluster: Cluster) -> AsyncIterator[GMClient]:
    """An admin, made once per test (each test's own account name)."""
    name = f"Ada{int(time.monotonic() * 1000) % 1_000_000}"
    gm = await game_master(cluster, name, "admin")
    yield gm
    await gm.close()


async def test_commands_allowed_or_refused_by_role_and_world(cluster: Cluster,
                                                             admin: GMClient) -> None:
    pawn = await player_in_game(cluster, "Pawnee", "Pawn")
    boss = await player_in_game(cluster, "Bossy", "Bossman")  # an admin's character
    gwen = await game_master(cluster, "Gwen")
    lem = await game_master(cluster, "Lem")
    try:
        await register_role(cluster, "Bossy", "admin")
        # a gm: who, inspect, broadcast; not the admins' commands, not on an admin's character
        who = await gwen.api.who(name="Paw")
        assert [(c.world, c.account, c.character, c.zone) for c in who.characters] \
            == [("Atlantis", "Pawnee", "Pawn", "town")]
        report = await gwen.api.inspect("pawn")
        assert (report.stored.name, report.account, report.account_role) \
            == ("Pawn", "Pawnee", "player")
        assert report.stored.in_play and report.online is not None
        assert report.live is not None and report.live_error == ""
        pawn_now = pawn.me()
        assert pawn_now is not None and report.live.zone == "town"
        assert abs(report.live.x - pawn_now.x) <= 0.25  # where it stands now (sync: 1/4 unit)
        assert abs(report.live.y - pawn_now.y) <= 0.25
        sent = await gwen.api.broadcast("server restarts soon", "Atlantis")
        assert sent.worlds == ["Atlantis"] and sent.players >= 2
        await pawn.wait_for(lambda s: "server restarts soon" in s.notices)
        assert await code_of(gwen.api.set_role("Pawnee", "gm")) \
            == ("forbidden", "set_role is for admins; Gwen is a gm")
        assert (await code_of(gwen.api.game_masters()))[0] == "forbidden"
        code, why = await code_of(gwen.api.kick("Bossman", "no"))
        assert code == "forbidden" and "a gm cannot act on an admin" in why
        code, why = await code_of(gwen.api.grant("Bossman", gold=5))
        assert code == "forbidden" and "Atlantis/Bossman belongs to an admin" in why

        # an admin manages game masters: limits Lem to a world where Pawn is not
        limited = await admin.api.set_worlds("Lem", ["Lemuria"])
        assert (limited.role, limited.worlds) == ("gm", ["Lemuria"])
        listed = {g.name: g for g in await admin.api.game_masters()}
        assert listed["Lem"].worlds == ["Lemuria"] and listed["Gwen"].worlds == []
        assert (await lem.api.who()).characters == []
        code, why = await code_of(lem.api.who(world="Atlantis"))
        assert (code, why) == ("forbidden",
                               "world Atlantis is outside the worlds of Lem (Lemuria)")
        for refused in (lem.api.kick("Pawn", "x"), lem.api.inspect("Pawn"),
                        lem.api.grant("Pawn", gold=1), lem.api.rename("Pawn", "Pawnish")):
            code, why = await code_of(refused)
            assert code == "forbidden" and "Atlantis/Pawn is in world Atlantis" in why, why
        code, why = await code_of(lem.api.ban(account="Pawnee", duration_s=60, reason="x"))
        assert (code, why) == ("forbidden", "a ban reaches every world; Lem is limited to Lemuria")
        code, why = await code_of(lem.api.broadcast("hello"))
        assert code == "forbidden" and "every world" in why
        with pytest.raises(RpcError) as set_admin:
            await admin.api.set_role("Bossy", "player")
        assert set_admin.value.code == "forbidden"  # an admin is made and unmade on the manhole

        # zone commands reach the zone holding the character, through its WorldServer
        assert (await gwen.api.teleport("Pawn", "town", 10, 10)).ok
        assert (await gwen.api.mute("Pawn", 60, "x")).ok and (await gwen.api.unmute("Pawn")).ok
        assert (await gwen.api.teleport_to("Pawn", "Bossman")).ok
        for in_zone in (gwen.api.teleport("Bossman", "town", 10, 10),
                        gwen.api.mute("Bossman", 60, "x"), gwen.api.summon("Bossman")):
            code, why = await code_of(in_zone)
            assert code == "forbidden" and "Atlantis/Bossman belongs to an admin" in why, why

        # revoking the role takes effect at once, on a GM session already open
        revoked = await admin.api.set_role("Gwen", "player")
        assert revoked.role == "player"
        code, why = await code_of(gwen.api.who())
        assert (code, why) == ("forbidden", "Gwen is not a game master any more")

        log = await entries(admin.api)
        by_action = {(e.actor, e.action, e.target, e.result) for e in log}
        assert {("gm:Gwen", "who", "*", "ok"), ("gm:Gwen", "inspect", "Atlantis/Pawn", "ok"),
                ("gm:Gwen", "set_role", "account:Pawnee", "refused"),
                ("gm:Gwen", "kick", "Atlantis/Bossman", "refused"),
                ("gm:Lem", "who", "world:Atlantis", "refused"),
                ("gm:Lem", "ban", "account:Pawnee", "refused"),
                ("gm:Gwen", "teleport", "Atlantis/Pawn", "ok"),
                ("gm:Gwen", "mute", "Atlantis/Bossman", "refused"),
                (f"gm:{admin_name(admin)}", "set_worlds", "account:Lem", "ok")} <= by_action
        refusal = next(e for e in log if e.actor == "gm:Lem" and e.action == "ban")
        assert refusal.address == "127.0.0.1"
        assert refusal.detail["error"] == "forbidden" and "every world" in refusal.detail["message"]
    finally:
        for client in (pawn, boss):
            await client.close()
        for gm in (gwen, lem):
            await gm.close()


async def test_a_kicked_player_is_disconnected_with_the_reason(cluster: Cluster) -> None:
    player = await player_in_game(cluster, "Kicky", "Kickster")
    gm = await game_master(cluster, "Kara")
    try:
        report = await gm.api.kick("kickster", "spamming the town")
        assert (report.world, report.account, report.character) \
            == ("Atlantis", "Kicky", "Kickster")
        assert report.had_session and report.worlds == 1
        await player.wait_for(lambda s: s.kicked == "spamming the town")
        await all_closed(player)
        code, _ = await code_of(gm.api.kick("Kickster", "again"))
        assert code == "not_online"
        kicks = await entries(gm.api, action="kick")
        assert [(e.target, e.result, e.detail.get("reason")) for e in kicks][:2] == [
            ("Kickster", "failed", None), ("Atlantis/Kickster", "ok", "spamming the town")]
    finally:
        await player.close()
        await gm.close()


async def test_a_banned_account_cannot_log_in_until_the_ban_expires(cluster: Cluster) -> None:
    player = await player_in_game(cluster, "Banny", "Bandit")
    gm = await game_master(cluster, "Beth")
    try:
        ban = await gm.api.ban(account="banny", duration_s=3, reason="cheating")
        assert ban.target == "Banny" and ban.expires_at is not None
        await player.wait_for(lambda s: s.kicked is not None and "cheating" in s.kicked)
        await all_closed(player)
        again = GameClient("127.0.0.1", cluster.master_port)
        code, why = await code_of(again.login("Banny", PASSWORD))
        assert code == "banned" and "cheating" in why
        deadline = time.monotonic() + 15
        while True:  # the ban runs out by itself: no unban
            try:
                await again.login("Banny", PASSWORD)
                break
            except RpcError as exc:
                assert exc.code == "banned" and time.monotonic() < deadline
                await asyncio.sleep(0.25)
        await again.close()

        address = await gm.api.ban(address="203.0.113.0/24", duration_s=None, reason="botnet")
        assert address.expires_at is None
        assert "203.0.113.0/24" in [b.target for b in await gm.api.bans()]
        assert (await gm.api.unban(address="203.0.113.0/24")).lifted == 1
        assert "203.0.113.0/24" not in [b.target for b in await gm.api.bans()]
    finally:
        await player.close()
        await gm.close()


async def test_gold_granted_offline_is_there_after_the_next_login(cluster: Cluster) -> None:
    owner = await player_in_game(cluster, "Goldie", "Goldwin", enter=False)
    gm = await game_master(cluster, "Gail")
    try:
        given = await gm.api.grant("Goldwin", gold=50, items=[ItemCount("wolf_pelt", 2)])
        assert (given.gold, [(i.item, i.count) for i in given.items]) == (50, [("wolf_pelt", 2)])
        code, _ = await code_of(gm.api.take("Goldwin", gold=60))
        assert code == "not_enough"
        code, _ = await code_of(gm.api.grant("Goldwin", items=[ItemCount("moon_rock", 1)]))
        assert code == "no_such_item"
        taken = await gm.api.take("Goldwin", items=[ItemCount("wolf_pelt", 1)])
        assert (taken.gold, taken.items[0].count, taken.version) == (50, 1, given.version + 1)

        entered = await owner.enter_game("Goldwin")  # the login loads the changed state
        await owner.wait_for(lambda s: entered.entity_id in s.seen)
        live = await gm.api.grant("Goldwin", gold=1)  # in play: its zone's job, saved at once
        assert live.gold == 51 and live.version > taken.version
        await owner.wait_for(lambda s: s.progress.gold == 51 and s.saved is not None
                             and s.saved.version == live.version)
        assert await owner.leave_game()  # its final save is based on the granted version
        assert owner.state.saved is not None and owner.state.saved.version > taken.version
        stored = (await gm.api.inspect("Goldwin")).stored
        assert (stored.gold, [(i.item, i.count) for i in stored.items]) == (51, [("wolf_pelt", 1)])
        assert not stored.in_play and stored.version == owner.state.saved.version
    finally:
        await owner.close()
        await gm.close()


async def test_destructive_commands_are_rate_limited_per_game_master(cluster: Cluster) -> None:
    rhea = await game_master(cluster, "Rhea")
    other = await game_master(cluster, "Otto")
    try:
        burst = cluster.settings.server.gm.rate_limits.ban.burst
        for n in range(burst):
            await rhea.api.ban(address=f"198.51.100.{n}", duration_s=60, reason="test")
        code, why = await code_of(rhea.api.ban(address="198.51.100.99", duration_s=60,
                                               reason="test"))
        assert code == "rate_limited" and why.startswith("too many ban commands; try again in")
        await other.api.ban(address="198.51.100.99", duration_s=60, reason="test")  # its own
        assert (await rhea.api.who()).unreachable == []  # only destructive commands are limited
        limited = await entries(rhea.api, action="ban")
        assert limited[0].result == "refused" and limited[0].detail["error"] == "rate_limited"
    finally:
        await rhea.close()
        await other.close()
