// A player's way through the cluster from the browser, as shardkit.client.session.GameClient
// goes over TCP: register and log in at the master (SCRAM), pick a world, pick or create a
// character, enter its zone, and play. ``events`` gets what the servers tell the player.

import { Bridge, RpcError, targetOf } from "./rpc.js";
import { ScramClient, makeVerifier } from "./scram.js";
import { View } from "./sync.js";

export { RpcError };

/** The password rules the master checks (docs/protocol.md, "Player registration"). */
export function passwordProblem(password, name, minimum = 8) {
  if (password.length < minimum) return `a password needs at least ${minimum} characters`;
  if (password.length > 1024) return "a password may have at most 1024 characters";
  if (password !== password.trim()) return "a password may not start or end with a space";
  if (password.toLowerCase() === name.toLowerCase()) return "the password may not be the name";
  return null;
}

export class GameSession {
  constructor(events, bridge = new Bridge()) {
    this.events = events;  // { notice(text), chat(speaker, text, channel), changed(), ... }
    this.bridge = bridge;
    this.master = null;
    this.world = null;
    this.zone = null;
    this.account = null;
    this.worldName = "";
    this.character = "";
    this.entered = null;
    this.view = new View();
    this.progress = { xp: 0, gold: 0, items: [] };
    this.queueWait = null;
  }

  // ------------------------------------------------------------------ master
  async openMaster() {
    if (this.master && !this.master.closed) return this.master;
    this.master = await this.bridge.open("master", this.playerHandlers("master"));
    return this.master;
  }

  async register(name, password) {
    const master = await this.bridge.open("master", {});
    try {
      const rules = await master.call("registration_rules");
      if (!new RegExp(rules.name_pattern).test(name)) {
        throw new RpcError("bad_name", "a name is 3 to 20 letters, digits or _, starting with a letter");
      }
      const problem = passwordProblem(password, name, rules.min_password_length);
      if (problem) throw new RpcError("bad_password", problem);
      const v = await makeVerifier(password, rules.iterations);
      await master.call("register", name, v.salt, v.storedKey, v.serverKey, v.iterations);
    } finally {
      master.close();  // log in on a fresh link, as over TCP
    }
    return this.login(name, password);
  }

  async login(name, password) {
    const master = await this.openMaster();
    const scram = new ScramClient(name, password);
    const started = await master.call("login_start", name, scram.first());
    const clientFinal = await scram.final(started.server_first);
    let done;
    try {
      done = await master.call("login_finish", clientFinal);
    } catch (error) {
      master.close();
      this.master = null;
      throw error;
    }
    scram.verify(done.server_final);
    this.account = done.account;
    return done.account;
  }

  worlds() {
    return this.master.call("worlds");
  }

  // ------------------------------------------------------------------- world
  async enterWorld(name) {
    let entry = await this.master.call("enter_world", name);
    if (entry.queued) {
      this.events.notice(`${name} is full: you are number ${entry.position} in its queue`);
      entry = await new Promise((resolve) => { this.queueWait = resolve; });
    }
    if (this.world) this.world.close();
    this.world = await this.bridge.open(targetOf(entry.host, entry.port),
                                        this.playerHandlers("world"));
    const welcome = await this.world.call("ticket_login", entry.ticket);
    this.worldName = welcome.world;
    return welcome;
  }

  characters() {
    return this.world.call("characters");
  }

  createCharacter(name) {
    return this.world.call("create_character", name);
  }

  // -------------------------------------------------------------------- zone
  async enterGame(character) {
    const entry = await this.world.call("enter_game", character);
    this.character = character;
    if (this.zone) this.zone.close();
    this.view.clear();
    this.zone = await this.bridge.open(targetOf(entry.host, entry.port),
                                       this.playerHandlers("zone"));
    this.entered = await this.zone.call("zone_login", entry.ticket);
    const e = this.entered;
    this.progress = { xp: e.xp, gold: e.gold, items: e.items, level: e.level };
    this.events.changed();
    return this.entered;
  }

  me() {
    return this.entered ? this.view.entities.get(this.entered.entity_id) : undefined;
  }

  move(dx, dy) {
    if (this.zone) this.zone.notify("input", dx, dy);
  }

  attack(target) {
    if (this.zone) this.zone.notify("attack", target);
  }

  /** ``say``, ``zone`` or ``world`` chat, or a whisper to ``to``. */
  async chat(channel, text, to = "") {
    if (!this.zone || this.zone.closed) throw new RpcError("not_in_zone", "enter the game first");
    if (channel === "whisper") return this.zone.call("whisper", to, text);
    return this.zone.call("chat", channel, text);
  }

  // ----------------------------------------------------------- notifications
  playerHandlers(kind) {
    const ev = this.events;
    const handlers = {
      chat: (speaker, text, channel = "say") => ev.chat(speaker, text, channel),
      broadcast: (text) => ev.notice(`[broadcast] ${text}`, "broadcast"),
      kicked: (reason) => ev.notice(`disconnected by the ${kind} server: ${reason}`, "kicked"),
      error: (error) => ev.notice(`${error.code}: ${error.message}`, "error"),
      guild_chat: (guild, speaker, text) => ev.chat(speaker, text, `guild ${guild}`),
      zone_lost: (zone) => ev.notice(`zone ${zone} went down; enter again once it is back`),
      going_down: (reason, inS, backInS, text) => ev.notice(text, "broadcast"),
      queue_position: (world, position) => ev.notice(`queue for ${world}: number ${position}`),
      queue_ready: (world, host, port, ticket) => {
        if (this.queueWait) this.queueWait({ world, host, port, ticket });
        this.queueWait = null;
      },
      onClose: (code, reason) => ev.closed(kind, code, reason),
    };
    if (kind === "zone") Object.assign(handlers, this.zoneHandlers());
    return handlers;
  }

  zoneHandlers() {
    const ev = this.events;
    const p = this.progress;
    return {
      sync: (tick, body) => {
        for (const event of this.view.apply(tick, body)) ev.combat(event);
        ev.changed();
      },
      experience: (gained, total) => { p.xp = total; ev.notice(`+${gained} experience`); },
      level_up: (level) => { p.level = level; ev.notice(`you reached level ${level}`); },
      inventory: (gold, items) => { p.gold = gold; p.items = items; ev.changed(); },
      loot: (source, gold, items) => ev.notice(`loot: ${gold} gold` +
        items.map(([item, count]) => `, ${count} ${item}`).join("")),
      respawned: () => ev.notice("you are alive again"),
      attack_refused: (target, reason) => ev.notice(`attack refused: ${reason}`),
      muted: (until, reason) => ev.notice(until ? `you are muted: ${reason}` : "you may chat again"),
      saved: (version, zone) => ev.saved(version, zone),
      portal: (portal, zone, x, y, moved) => {
        ev.notice(moved ? `through ${portal} to ${zone}` : `${portal} leads to ${zone} (not reachable yet)`);
        if (moved) this.enterGame(this.character).catch((e) => ev.notice(`portal: ${e.message}`));
      },
    };
  }
}
