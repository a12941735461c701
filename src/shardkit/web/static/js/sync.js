// The zone's ``sync`` body (docs/protocol.md, "Zone sync format"), read as
// shardkit.client.sync.decode_sync reads it: five little-endian u16 counts, then enters,
// leaves, moves, stats and events.

export const KIND_PLAYER = 1;
export const KIND_NPC = 2;
export const FLAG_DEAD = 1;
export const EVENT_HIT = 1;
export const EVENT_DEATH = 2;
export const EVENT_LEVEL_UP = 3;
const QUANTUM = 16;
const names = new TextDecoder("utf-8");

export function decodeSync(body) {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let at = 0;
  const need = (n) => {
    if (at + n > body.length) throw new RangeError("sync body cut short");
  };
  need(10);
  const counts = [0, 1, 2, 3, 4].map((i) => view.getUint16(2 * i, true));
  at = 10;
  const out = { enters: [], leaves: [], moves: [], stats: [], events: [] };
  for (let i = 0; i < counts[0]; i++) {
    need(6);
    const id = view.getUint32(at, true);
    const kind = view.getUint8(at + 4);
    const size = view.getUint8(at + 5);
    at += 6;
    need(size);
    out.enters.push({ id, kind, name: names.decode(body.subarray(at, at + size)) });
    at += size;
  }
  for (let i = 0; i < counts[1]; i++, at += 4) {
    need(4);
    out.leaves.push(view.getUint32(at, true));
  }
  for (let i = 0; i < counts[2]; i++, at += 8) {
    need(8);
    out.moves.push({ id: view.getUint32(at, true), x: view.getUint16(at + 4, true) / QUANTUM,
                     y: view.getUint16(at + 6, true) / QUANTUM });
  }
  for (let i = 0; i < counts[3]; i++, at += 16) {
    need(16);
    out.stats.push({ id: view.getUint32(at, true), hp: view.getInt32(at + 4, true),
                     maxHp: view.getInt32(at + 8, true), level: view.getUint16(at + 12, true),
                     flags: view.getUint8(at + 14) });
  }
  for (let i = 0; i < counts[4]; i++, at += 16) {
    need(16);
    out.events.push({ type: view.getUint8(at), source: view.getUint32(at + 4, true),
                      target: view.getUint32(at + 8, true), value: view.getInt32(at + 12, true) });
  }
  if (at !== body.length) throw new RangeError("sync body has bytes after its records");
  return out;
}

/** What we see in the zone: entities by id, kept up to date by ``apply``. */
export class View {
  constructor() {
    this.entities = new Map();
    this.tick = 0;
  }

  clear() {
    this.entities.clear();
  }

  apply(tick, body) {
    const update = decodeSync(body);
    this.tick = tick;
    for (const { id, kind, name } of update.enters) {
      this.entities.set(id, { id, kind, name, x: 0, y: 0, hp: 0, maxHp: 0, level: 1, flags: 0 });
    }
    for (const id of update.leaves) this.entities.delete(id);
    for (const { id, x, y } of update.moves) {
      const e = this.entities.get(id);
      if (e) { e.x = x; e.y = y; }
    }
    for (const { id, hp, maxHp, level, flags } of update.stats) {
      const e = this.entities.get(id);
      if (e) Object.assign(e, { hp, maxHp, level, flags });
    }
    return update.events;
  }
}
