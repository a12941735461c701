"""The zone engine without sockets: movement, NPCs, combat, portals, interest, the sync format."""

from __future__ import annotations

import math
import random
from pathlib import Path

import msgspec
import pytest

from shardkit.content import (
    DEFAULT_CONTENT,
    Area,
    Content,
    ItemDef,
    LootTableDef,
    NpcKindDef,
    PlayerRules,
    PortalDef,
    ZoneDef,
    load_content,
)
from shardkit.content.schema import LootItemDef, NpcSpawnDef
from shardkit.zone import actors
from shardkit.zone.engine import TickResult, ZoneEngine
from shardkit.zone.entities import FLAG_DEAD, KIND_NPC, KIND_PLAYER
from shardkit.zone.events import (
    VISIBLE_DEATH,
    VISIBLE_HIT,
    AttackRefused,
    Correction,
    Death,
    Experience,
    Hit,
    LevelUp,
    Loot,
    PortalEntered,
    Respawned,
)
from shardkit.zone.interest import InterestConfig
from shardkit.zone.simulation import Entity, Simulation
from shardkit.zone.sync_format import SyncMessage, decode_notification

SPAWN = Area(10.0, 10.0, 20.0, 20.0)
RULES = PlayerRules(speed=5.0, hp=50, hp_per_level=10, damage=10, damage_per_level=0,
                    attack_range=3.0, attack_cooldown_s=0.5, respawn_s=1.0, level_xp=[50, 150])
CRAB = NpcKindDef(name="Crab", hp=20, speed=2.0, wander_radius=0.0, notice_radius=0.0,
                  leash_distance=30.0, damage=1, attack_range=2.0, attack_cooldown_s=1.0, xp=30,
                  respawn_s=3.0, corpse_s=0.5, loot="crab")
WOLF = NpcKindDef(name="Wolf", hp=100, speed=4.0, wander_radius=0.0, notice_radius=12.0,
                  leash_distance=25.0, damage=20, attack_range=2.0, attack_cooldown_s=0.5, xp=10,
                  respawn_s=10.0, corpse_s=1.0)


def make_content(**zone_fields: object) -> Content:
    zone = ZoneDef(width=400.0, height=400.0, spawn=(20.0, 20.0), spawn_area=SPAWN, **zone_fields)  # type: ignore[arg-type]
    return Content(
        Path("test"), "test", {"field": zone, "town": ZoneDef()},
        npcs={"crab": CRAB, "wolf": WOLF},
        items={"shell": ItemDef("Shell"), "pearl": ItemDef("Pearl")},
        loot={"crab": LootTableDef(gold=(3, 3), items=[LootItemDef("shell", 1.0, (2, 2)),
                                                        LootItemDef("pearl", 0.0)])},
        players=RULES,
    )


def engine(content: Content | None = None, seed: int = 7, **config: object) -> ZoneEngine:
    content = content or make_content()
    return ZoneEngine.for_zone(content, "field", view_radius=50.0, rng=random.Random(seed),
                               interest=InterestConfig(radius=50.0, **config))  # type: ignore[arg-type]


def messages(result: TickResult) -> dict[int, SyncMessage]:
    return {eid: decode_notification(bytes(payload)) for eid, payload in result.frame}


def ids_of(pairs: list) -> list[int]:
    return [p[0] for p in pairs]


# ------------------------------------------------------------------- placement


def test_new_characters_appear_at_free_points_inside_the_spawn_area() -> None:
    zone = engine()
    placed = [zone.sim.position(zone.join(f"p{i}")) for i in range(60)]  # 400 square units
    for x, y in placed:
        assert SPAWN.contains(x, y)
    closest = min(math.dist(a, b) for i, a in enumerate(placed) for b in placed[i + 1:])
    assert closest >= 1.5
    # an overfull area still places everyone inside it, on distinct points
    more = [zone.sim.position(zone.join(f"q{i}")) for i in range(400)]
    assert all(SPAWN.contains(x, y) for x, y in more)
    assert len({(round(x, 3), round(y, 3)) for x, y in placed + more}) == len(placed + more)


def test_same_seed_same_inputs_same_game() -> None:
    content = load_content(DEFAULT_CONTENT)

    def play(seed: int) -> tuple[list[bytes], list[object]]:
        zone = ZoneEngine.for_zone(content, "meadow", rng=random.Random(seed))
        players = [zone.join(f"p{i}") for i in range(20)]
        inputs = random.Random(99)
        frames, events = [], []
        for _ in range(60):
            for eid in players:
                zone.sim.set_input(eid, inputs.uniform(-1, 1), inputs.uniform(-1, 1))
            result = zone.tick()
            frames.append(result.frame.data)
            events.extend(result.events)
        return frames, events

    assert play(5) == play(5)
    assert play(5)[0] != play(6)[0]


# -------------------------------------------------------------------- movement


def test_speed_and_bounds_are_enforced() -> None:
    zone = engine()
    eid = zone.join("Runner", x=395.0, y=200.0)
    zone.sim.set_input(eid, 30.0, 40.0)  # longer than 1: scaled to 1
    zone.tick()
    x, y = zone.sim.position(eid)
    assert math.dist((x, y), (395.0, 200.0)) == pytest.approx(0.5)  # 5 units/s for 0.1 s
    zone.sim.set_input(eid, 1.0, 0.0)
    for _ in range(30):
        zone.tick()
    assert zone.sim.position(eid)[0] == 400.0  # the zone's edge
    zone.sim.set_input(eid, math.nan, 0.0)  # ignored
    zone.sim.set_input(eid, 0.0, 0.0)
    zone.tick()
    assert zone.sim.position(eid)[0] == 400.0


def test_speed_hack_claims_are_corrected_and_counted() -> None:
    zone = engine()
    eid = zone.join("Cheater", x=100.0, y=100.0)
    zone.sim.set_input(eid, 1.0, 0.0)
    zone.tick()
    assert zone.sim.claim_position(eid, 100.6, 100.0) is None  # within tolerance
    first = zone.sim.claim_position(eid, 140.0, 100.0)
    second = zone.sim.claim_position(eid, 180.0, 100.0)
    assert isinstance(first, Correction) and isinstance(second, Correction)
    assert (first.strikes, second.strikes) == (1, 2)
    assert (first.x, first.y) == pytest.approx((100.5, 100.0))
    assert zone.sim.claim_position(eid, math.inf, 0.0).strikes == 3  # type: ignore[union-attr]
    result = zone.tick()
    assert [e.strikes for e in result.events if isinstance(e, Correction)] == [1, 2, 3]
    assert zone.sim.position(eid) == pytest.approx((101.0, 100.0))  # the claims moved nothing
    own = messages(result)[eid]
    assert own.moves == [(eid, 101.0, 100.0)]  # the client is told where it really is


# -------------------------------------------------------------- area of interest


def test_entities_enter_once_then_only_changes_then_leave_once() -> None:
    zone = engine()
    watcher = zone.join("Watcher", x=100.0, y=100.0)
    walker = zone.join("Walker", x=100.0, y=200.0)  # 100 away: out of view (radius 50)
    first = messages(zone.tick())[watcher]
    assert first.enters == [(watcher, KIND_PLAYER, "Watcher")]
    assert first.moves == [(watcher, 100.0, 100.0)]
    assert first.stats == [(watcher, 50, 50, 1, 0)]
    assert messages(zone.tick())[watcher] == SyncMessage(2, [], [], [], [], [])  # nothing changed

    zone.sim.set_input(walker, 0.0, -1.0)  # walks through the watcher's view, 0.5 per tick
    enters, leaves, moves = [], [], []
    in_view = False
    for _ in range(400):
        message = messages(zone.tick())[watcher]
        enters += message.enters
        leaves += message.leaves
        walker_moves = [m for m in message.moves if m[0] == walker]
        moves += walker_moves
        if message.enters:
            in_view = True
            assert message.enters == [(walker, KIND_PLAYER, "Walker")]
            assert walker_moves, "an entering entity comes with its position"
        if message.leaves:
            in_view = False
        if not in_view:
            assert not walker_moves
        y = zone.sim.position(walker)[1]
        if y < 30.0:
            break
    assert enters == [(walker, KIND_PLAYER, "Walker")]
    assert leaves == [walker]
    assert len(moves) > 150  # updated every tick it was in view (about 200 ticks)
    assert all(m[2] == round(m[2] * 16) / 16 for m in moves)  # quantized to 1/16
    assert all(not isinstance(m[1], str) for m in moves)  # ids, never names


def test_quantization_of_positions() -> None:
    zone = engine()
    eid = zone.join("Exact", x=12.34, y=56.78)
    message = messages(zone.tick())[eid]
    assert message.moves == [(eid, round(12.34 * 16) / 16, round(56.78 * 16) / 16)]


def test_removed_entity_leaves_every_view_once() -> None:
    zone = engine()
    a = zone.join("A", x=100.0, y=100.0)
    b = zone.join("B", x=110.0, y=100.0)
    zone.tick()
    zone.leave(b)
    assert messages(zone.tick())[a].leaves == [b]
    assert messages(zone.tick())[a].leaves == []


def test_a_crowd_is_capped_nearest_first_and_everyone_is_updated_eventually() -> None:
    cap = 8
    zone = engine(send_cap=cap, view_cap=48, view_slack=8, tiers=(4, 16, 32), max_staleness=12)
    rng = random.Random(3)
    crowd = [zone.join(f"c{i}", x=200 + rng.uniform(-15, 15), y=200 + rng.uniform(-15, 15))
             for i in range(120)]
    me = crowd[0]
    for _ in range(4):
        zone.tick()  # views fill
    view = zone.interest.visible(me)
    assert len(view) == 48 and view[0] == me
    last_update = {eid: 0 for eid in view}
    for tick in range(1, 61):
        for eid in crowd:  # everybody moves every tick
            zone.sim.set_input(eid, rng.uniform(-1, 1), rng.uniform(-1, 1))
        message = messages(zone.tick())[me]
        fresh = {e[0] for e in message.enters}
        updated = [m[0] for m in message.moves if m[0] not in fresh]
        assert len(updated) <= cap
        for eid in [*updated, *fresh]:
            last_update[eid] = tick
        if tick > 4:
            nearest = zone.interest.visible(me)[:4]  # tier 0: every tick
            assert set(nearest) <= set(updated) | fresh
    in_view_now = set(zone.interest.visible(me))
    stale = {eid: t for eid, t in last_update.items() if eid in in_view_now and t < 60 - 30}
    assert not stale, f"entities in view not updated for 30 ticks: {stale}"


def test_crowd_cost_is_bounded_by_the_caps() -> None:
    zone = engine(send_cap=16, view_cap=32, view_slack=8, tiers=(8, 16, 24))
    rng = random.Random(4)
    crowd = [zone.join(f"c{i}", x=200 + rng.uniform(-10, 10), y=200 + rng.uniform(-10, 10))
             for i in range(300)]
    for _ in range(6):
        for eid in crowd:
            zone.sim.set_input(eid, rng.uniform(-1, 1), rng.uniform(-1, 1))
        result = zone.tick()
    for message in messages(result).values():
        assert len(message.moves) - len(message.enters) <= 16
    assert max(len(zone.interest.visible(e)) for e in crowd) <= 40


def test_a_held_client_skips_ahead_to_the_latest_state() -> None:
    zone = engine(max_behind=5)
    slow = zone.join("Slow", x=100.0, y=100.0)
    mover = zone.join("Mover", x=110.0, y=100.0)
    zone.tick()
    zone.sim.set_input(mover, 0.0, 1.0)
    for _ in range(5):
        result = zone.tick(hold={slow})
        assert slow not in messages(result)  # nothing queued for it
        assert result.frame.too_far_behind == []
    back = messages(zone.tick())[slow]
    x, y = zone.sim.position(mover)
    assert back.moves == [(mover, x, round(y * 16) / 16)]  # one absolute position, no backlog
    for _ in range(6):
        result = zone.tick(hold={slow})
    assert result.frame.too_far_behind == [slow]


def test_a_client_sees_what_happens_in_its_view() -> None:
    zone = engine(make_content(npcs=[NpcSpawnDef("crab", 1, Area(100.0, 100.0, 0.0, 0.0))]))
    crab = next(iter(zone.sim.npc_of))
    hunter = zone.join("Hunter", x=101.0, y=100.0)
    bystander = zone.join("Bystander", x=120.0, y=100.0)
    first = messages(zone.tick())[bystander]
    assert (crab, KIND_NPC, "Crab") in first.enters
    zone.sim.attack(hunter, crab)
    seen = messages(zone.tick())[bystander]
    assert (VISIBLE_HIT, hunter, crab, 10) in seen.events
    assert (crab, 10, 20, 1, 0) in seen.stats


# ------------------------------------------------------------------ NPCs, combat


def test_npc_notices_chases_and_kills_a_player_who_respawns_in_the_spawn_area() -> None:
    zone = engine(make_content(npcs=[NpcSpawnDef("wolf", 1, Area(200.0, 200.0, 0.0, 0.0))]))
    wolf = next(iter(zone.sim.npc_of.values()))
    victim = zone.join("Victim", x=210.0, y=200.0)  # within notice radius (12)
    seen: list[object] = []
    for _ in range(200):
        seen += zone.tick().events
        if any(isinstance(e, Respawned) for e in seen):
            break
    hits = [e for e in seen if isinstance(e, Hit) and e.target == victim]
    assert hits and all(h.attacker == wolf.eid and h.damage == 20 for h in hits)
    deaths = [e for e in seen if isinstance(e, Death)]
    assert deaths == [Death(victim, wolf.eid)]
    respawn = next(e for e in seen if isinstance(e, Respawned))
    assert SPAWN.contains(respawn.x, respawn.y)
    slot = zone.sim.table.slot_of[victim]
    assert zone.sim.table.hp[slot] == 50 and not zone.sim.table.flags[slot] & FLAG_DEAD
    death_index = seen.index(deaths[0])
    assert seen.index(respawn) > death_index
    # far from the wolf now: it gives up and goes home
    for _ in range(100):
        zone.tick()
    assert wolf.mode == actors.IDLE
    assert zone.sim.position(wolf.eid) == pytest.approx((200.0, 200.0), abs=0.5)


def test_npc_leashes_back_home_and_heals() -> None:
    zone = engine(make_content(npcs=[NpcSpawnDef("wolf", 1, Area(200.0, 200.0, 0.0, 0.0))]))
    wolf = next(iter(zone.sim.npc_of.values()))
    runner = zone.join("Runner", x=210.0, y=200.0)
    zone.sim.set_input(runner, 1.0, 0.0)  # runs at 5/s, the wolf at 4/s
    zone.tick()
    assert wolf.mode == actors.CHASE
    slot = zone.sim.table.slot_of[wolf.eid]
    zone.sim.table.hp[slot] = 10  # hurt earlier
    modes = set()
    for _ in range(300):
        zone.tick()
        modes.add(wolf.mode)
        if wolf.mode == actors.IDLE:
            break
    assert actors.RETURN in modes and wolf.mode == actors.IDLE
    assert zone.sim.table.hp[slot] == 100
    assert zone.sim.position(wolf.eid) == pytest.approx((200.0, 200.0), abs=0.01)


def test_kill_gives_xp_gold_and_items_to_the_killer_and_levels_up() -> None:
    zone = engine(make_content(npcs=[NpcSpawnDef("crab", 2, Area(100.0, 100.0, 0.0, 0.0))]))
    killer = zone.join("Killer", x=101.0, y=100.0)
    helper = zone.join("Helper", x=99.0, y=100.0)
    events: list[object] = []
    for crab in list(zone.sim.npc_of):
        zone.sim.attack(helper, crab)  # helps (or is refused: cooldown), never the killing blow
        events += zone.tick().events
        for _ in range(40):
            zone.sim.attack(killer, crab)
            events += zone.tick().events
            if any(isinstance(e, Death) and e.entity == crab for e in events):
                break
    assert [e for e in events if isinstance(e, Death)] == [
        Death(e.entity, killer) for e in events if isinstance(e, Death)]
    assert len([e for e in events if isinstance(e, Death)]) == 2
    assert [e for e in events if isinstance(e, Experience)] == [
        Experience(killer, 30, 30), Experience(killer, 30, 60)]
    assert [e for e in events if isinstance(e, LevelUp)] == [LevelUp(killer, 2, 60)]
    loots = [e for e in events if isinstance(e, Loot)]
    assert [(lo.player, lo.gold, lo.items) for lo in loots] == [(killer, 3, [("shell", 2)])] * 2
    progress = zone.sim.progress(killer)
    assert (progress.level, progress.xp, progress.gold, progress.items) == (2, 60, 6, {"shell": 4})
    assert progress.hp == 60
    helped = zone.sim.progress(helper)
    assert (helped.xp, helped.gold, helped.items) == (0, 0, {})


def test_attacks_are_refused_out_of_range_on_cooldown_and_between_players() -> None:
    zone = engine(make_content(npcs=[NpcSpawnDef("crab", 1, Area(100.0, 100.0, 0.0, 0.0))]))
    crab = next(iter(zone.sim.npc_of))
    near = zone.join("Near", x=101.0, y=100.0)
    far = zone.join("Far", x=150.0, y=100.0)
    zone.sim.attack(far, crab)
    zone.sim.attack(near, crab)
    zone.sim.attack(near, crab)
    zone.sim.attack(near, far)
    zone.sim.attack(near, 9999)
    events = zone.tick().events
    assert [e for e in events if isinstance(e, AttackRefused)] == [
        AttackRefused(far, crab, "out_of_range"), AttackRefused(near, crab, "cooldown"),
        AttackRefused(near, far, "not_allowed"), AttackRefused(near, 9999, "no_target")]
    assert [e for e in events if isinstance(e, Hit)] == [Hit(near, crab, 10, 10)]


def test_dead_npc_is_removed_and_respawns_as_a_new_entity() -> None:
    zone = engine(make_content(npcs=[NpcSpawnDef("crab", 1, Area(100.0, 100.0, 0.0, 0.0))]))
    crab = next(iter(zone.sim.npc_of))
    hunter = zone.join("Hunter", x=101.0, y=100.0)
    zone.tick()
    leaves, deaths = [], []
    for _ in range(80):
        zone.sim.attack(hunter, crab)
        message = messages(zone.tick())[hunter]
        leaves += message.leaves
        deaths += [e for e in message.events if e[0] == VISIBLE_DEATH]
    assert deaths == [(VISIBLE_DEATH, hunter, crab, 0)]
    assert leaves == [crab]
    (respawned,) = zone.sim.npc_of
    assert respawned != crab


# --------------------------------------------------------------------- portals


def test_stepping_into_a_portal_reports_it_once_per_entry() -> None:
    portal = PortalDef("door", Area(50.0, 0.0, 10.0, 400.0), "town", (5.0, 6.0))
    zone = engine(make_content(portals=[portal]))
    eid = zone.join("Traveller", x=45.0, y=100.0)
    zone.sim.set_input(eid, 1.0, 0.0)
    entries = []
    for _ in range(40):  # 20 units: in at x=50, through the 10-unit door, out again
        entries += [e for e in zone.tick().events if isinstance(e, PortalEntered)]
    assert entries == [PortalEntered(eid, "door", "town", 5.0, 6.0)]
    zone.sim.set_input(eid, -1.0, 0.0)
    for _ in range(20):
        entries += [e for e in zone.tick().events if isinstance(e, PortalEntered)]
    assert len(entries) == 2


def test_arriving_inside_a_portal_is_not_an_entry() -> None:
    portal = PortalDef("door", Area(50.0, 0.0, 10.0, 400.0), "town", (5.0, 6.0))
    zone = engine(make_content(portals=[portal]))
    zone.join("Arrival", x=55.0, y=100.0)
    assert not [e for e in zone.tick().events if isinstance(e, PortalEntered)]


# ----------------------------------------------------------------- old surface


def test_simulation_keeps_the_surface_the_zone_server_uses() -> None:
    sim = Simulation(width=100.0, height=100.0, view_radius=10.0)
    a, b, c = Entity(1, "A", 5.0, 5.0), Entity(2, "B", 8.0, 5.0), Entity(3, "C", 90.0, 90.0)
    for entity in (a, b, c):
        sim.add(entity)
    sim.set_input(1, 1.0, 0.0)
    sim.step(0.1)
    assert a.moved and not b.moved and sim.tick == 1
    assert a.x == pytest.approx(5.0 + sim.speed * 0.1)
    assert sorted(e.id for e in sim.visible_to(a)) == [1, 2]
    removed = sim.remove(1)
    assert removed is a and a.x == pytest.approx(5.8)
    assert msgspec.structs.asdict(sim.progress(2))["level"] == 1


# ------------------------------------------------------------------ the doc


def test_the_documented_example_is_what_the_zone_sends() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "protocol.md").read_text()
    section = doc.split("## Zone sync format", 1)[1].split("\n## ", 1)[0]
    example = section.split("### Example", 1)[1]
    blocks = example.split("```")[1::2]
    documented = [bytes.fromhex(" ".join(line[:56] for line in block.strip().splitlines()))
                  for block in blocks]
    sim = Simulation(zone=ZoneDef(width=100.0, height=100.0), rng=random.Random(1))
    zone = ZoneEngine(sim, InterestConfig(radius=60.0))
    ann = zone.join("Ann", x=10.5, y=20.25)
    first = zone.tick().frame.payload(ann)
    sim.set_input(ann, 1.0, 0.0)
    second = zone.tick().frame.payload(ann)
    assert documented == [first, second]


def test_idle_npcs_wander_around_home_within_their_radius() -> None:
    content = load_content(DEFAULT_CONTENT)
    zone = ZoneEngine.for_zone(content, "meadow", rng=random.Random(2))
    for _ in range(200):
        zone.tick()
    distances = [math.dist(n.home, zone.sim.position(n.eid)) for n in zone.sim.npcs]
    assert sum(d > 0.1 for d in distances) > len(distances) // 2
    assert all(d <= n.kind.wander_radius + 1e-6
               for n, d in zip(zone.sim.npcs, distances, strict=True))


def test_a_teleported_player_sees_its_new_surroundings_at_once() -> None:
    zone = engine()
    traveller = zone.join("Traveller", x=100.0, y=100.0)
    old_friend = zone.join("Old", x=105.0, y=100.0)
    new_friend = zone.join("New", x=305.0, y=300.0)
    zone.tick()
    npc = zone.sim.spawn_npc("crab", CRAB, 300.0, 305.0)
    assert zone.sim.teleport(traveller, 300.0, 300.0)
    message = messages(zone.tick())[traveller]
    assert message.leaves == [old_friend]
    assert {e[0] for e in message.enters} == {new_friend, npc}
    assert (traveller, 300.0, 300.0) in message.moves


def test_a_player_who_joins_between_ticks_gets_its_view_at_once_and_then_only_changes() -> None:
    zone = engine()
    watcher = zone.join("Watcher", x=100.0, y=100.0)
    assert zone.first_sync(watcher) is None  # before the first tick there is no state to show
    zone.tick()
    zone.sim.set_input(watcher, 1.0, 0.0)
    zone.tick()
    newcomer = zone.join("Newcomer", x=110.0, y=100.0)
    payload = zone.first_sync(newcomer)
    assert payload is not None
    first = decode_notification(payload)
    assert first.tick == zone.sim.tick  # numbered like the tick it shows
    assert sorted(ids_of(first.enters)) == sorted([watcher, newcomer])
    assert dict((m[0], m[1:]) for m in first.moves)[watcher] == zone.sim.position(watcher)
    assert zone.first_sync(newcomer) is None  # owed once

    following = messages(zone.tick())[newcomer]
    assert following.tick == first.tick + 1
    assert following.enters == []  # already told
    assert ids_of(following.moves) == [watcher]  # only what changed: the watcher walks on
    # the watcher is told of the newcomer by its own view's next rebuild, as before
    seen = [messages(zone.tick())[watcher].enters for _ in range(4)]
    assert [(newcomer, KIND_PLAYER, "Newcomer")] in seen
