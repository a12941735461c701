// The browser client's page: screens from login to the zone, the zone drawn on a canvas,
// chat and keyboard movement. The cluster side is session.js; nothing here builds HTML from
// text a server sent (textContent only).

import { GameSession } from "./session.js";
import { FLAG_DEAD, KIND_NPC, KIND_PLAYER, EVENT_DEATH, EVENT_HIT, EVENT_LEVEL_UP } from "./sync.js";

const $ = (id) => document.getElementById(id);
const CHAT_LINES = 200;
const MAP_RADIUS = 25;  // zone units from the character to the map's nearer edges
const KEYS = {
  ArrowUp: [0, 1], KeyW: [0, 1], ArrowDown: [0, -1], KeyS: [0, -1],
  ArrowLeft: [-1, 0], KeyA: [-1, 0], ArrowRight: [1, 0], KeyD: [1, 0],
};

let session = null;
let drawPending = false;
const held = new Set();
let heading = "0,0";

function status(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

function show(screen) {
  for (const id of ["login-screen", "world-screen", "character-screen", "game-screen"]) {
    $(id).hidden = id !== screen;
  }
}

function chatLine(text, kind) {
  const line = document.createElement("div");
  line.className = kind;
  line.textContent = text;
  const log = $("chat");
  log.append(line);
  while (log.childElementCount > CHAT_LINES) log.firstElementChild.remove();
  log.scrollTop = log.scrollHeight;
}

const events = {
  notice: (text, kind = "notice") => chatLine(text, kind),
  chat: (speaker, text, channel) => chatLine(`[${channel}] ${speaker}: ${text}`, channel),
  saved: () => {},
  combat: (event) => {
    const name = (id) => session.view.entities.get(id)?.name ?? `#${id}`;
    if (event.type === EVENT_HIT) chatLine(`${name(event.source)} hits ${name(event.target)} for ${event.value}`, "notice");
    else if (event.type === EVENT_DEATH) chatLine(`${name(event.target)} dies`, "notice");
    else if (event.type === EVENT_LEVEL_UP) chatLine(`${name(event.target)} reaches level ${event.value}`, "notice");
  },
  closed: (kind, code, reason) => {
    if (kind === "zone" && session.zone && !session.zone.closed) return;  // an old zone link
    if (code !== 1000 || kind !== "master") chatLine(`${kind} link closed: ${reason}`, "notice");
  },
  changed: () => {
    publish();
    if (!drawPending) {
      drawPending = true;
      requestAnimationFrame(() => { drawPending = false; draw(); });
    }
  },
};

async function attempt(what, action) {
  status(`${what}...`);
  try {
    const result = await action();
    status("");
    return result;
  } catch (error) {
    status(`${what}: ${error.message}`, true);
    return undefined;
  }
}

// ------------------------------------------------------------------- screens
async function loggedIn(account) {
  $("who").textContent = `${account.name} (${account.role})`;
  show("world-screen");
  const worlds = await attempt("loading the world list", () => session.worlds());
  const rows = $("worlds");
  rows.replaceChildren();
  for (const w of worlds || []) {
    const row = rows.insertRow();
    for (const text of [w.name, w.status, `${w.population} / ${w.capacity}`, String(w.queue)]) {
      row.insertCell().textContent = text;
    }
    const button = document.createElement("button");
    button.textContent = "Enter";
    button.dataset.world = w.name;
    button.disabled = w.status === "down";
    button.addEventListener("click", () => enterWorld(w.name));
    row.insertCell().append(button);
  }
}

async function enterWorld(name) {
  const welcome = await attempt(`entering ${name}`, () => session.enterWorld(name));
  if (!welcome) return;
  $("world-name").textContent = welcome.world;
  show("character-screen");
  await listCharacters();
}

async function listCharacters() {
  const list = $("characters");
  list.replaceChildren();
  for (const c of (await attempt("loading characters", () => session.characters())) || []) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.textContent = "Play";
    button.dataset.character = c.name;
    button.addEventListener("click", () => play(c.name));
    item.append(`${c.name}, level ${c.level}, in ${c.zone} `, button);
    list.append(item);
  }
}

async function play(character) {
  const entered = await attempt(`entering the game as ${character}`,
                                () => session.enterGame(character));
  if (!entered) return;
  show("game-screen");
  chatLine(`you are in ${entered.zone} as ${character}`, "notice");
  $("zone").focus();
}

// --------------------------------------------------------------------- drawing
function entitiesInView() {
  return [...session.view.entities.values()].map((e) => ({
    id: e.id, name: e.name, kind: e.kind === KIND_PLAYER ? "player" : e.kind === KIND_NPC ? "npc" : "other",
    x: e.x, y: e.y, hp: e.hp, level: e.level, dead: Boolean(e.flags & FLAG_DEAD),
    me: e.id === session.entered?.entity_id,
  }));
}

/** The roster beside the map, the stats line, and what the canvas shows (data-entities). */
function publish() {
  const seen = entitiesInView();
  $("zone").dataset.entities = JSON.stringify(seen);
  const me = session.me();
  const p = session.progress;
  $("stats").textContent = me
    ? `${me.name}: level ${me.level}, health ${me.hp}/${me.maxHp}, experience ${p.xp}, gold ${p.gold}`
      + ` at (${me.x.toFixed(1)}, ${me.y.toFixed(1)}) in ${session.entered.zone}`
    : "";
  const roster = $("roster");
  roster.replaceChildren(...seen.sort((a, b) => a.name.localeCompare(b.name)).map((e) => {
    const item = document.createElement("li");
    item.className = e.me ? "me" : e.kind;
    item.textContent = `${e.name}${e.kind === "npc" ? " (NPC)" : ""} L${e.level}${e.dead ? " (dead)" : ""}`;
    item.dataset.id = String(e.id);
    if (!e.me) item.addEventListener("click", () => session.attack(e.id));
    return item;
  }));
}

function draw() {
  const canvas = $("zone");
  const g = canvas.getContext("2d");
  const { width, height } = canvas;
  g.fillStyle = "#203020";
  g.fillRect(0, 0, width, height);
  const me = session.me();
  if (!me || !session.entered) return;
  const scale = Math.min(width, height) / 2 / Math.min(MAP_RADIUS, session.entered.view_radius);
  const clamp = (v, size) => Math.min(size - 8, Math.max(8, v));  // farther ones at the edge
  const sx = (x) => clamp(width / 2 + (x - me.x) * scale, width);
  const sy = (y) => clamp(height / 2 - (y - me.y) * scale, height);  // north (+y) is up
  g.strokeStyle = "#2c422c";
  const gridX = (x) => width / 2 + (x - me.x) * scale;
  const gridY = (y) => height / 2 - (y - me.y) * scale;
  for (let gx = Math.ceil((me.x - width / scale) / 5) * 5; gridX(gx) < width; gx += 5) {
    g.beginPath(); g.moveTo(gridX(gx), 0); g.lineTo(gridX(gx), height); g.stroke();
  }
  for (let gy = Math.ceil((me.y - height / scale) / 5) * 5; gridY(gy) > 0; gy += 5) {
    g.beginPath(); g.moveTo(0, gridY(gy)); g.lineTo(width, gridY(gy)); g.stroke();
  }
  g.font = "12px system-ui, sans-serif";
  g.textAlign = "center";
  for (const e of session.view.entities.values()) {
    const mine = e === me;
    g.fillStyle = e.flags & FLAG_DEAD ? "#777" : mine ? "#7f7" : e.kind === KIND_NPC ? "#e55" : "#6af";
    g.beginPath();
    g.arc(sx(e.x), sy(e.y), mine ? 7 : 5, 0, 2 * Math.PI);
    g.fill();
    g.fillStyle = "#eee";
    g.fillText(e.name, sx(e.x), sy(e.y) - 10);
  }
}

// -------------------------------------------------------------------- keyboard
function steer() {
  let dx = 0;
  let dy = 0;
  for (const code of held) { dx += KEYS[code][0]; dy += KEYS[code][1]; }
  dx = Math.sign(dx);
  dy = Math.sign(dy);
  if (`${dx},${dy}` === heading) return;
  heading = `${dx},${dy}`;
  session.move(dx, dy);
}

function typing(event) {
  return ["INPUT", "SELECT", "TEXTAREA"].includes(event.target.tagName);
}

function onKey(event, down) {
  if ($("game-screen").hidden || typing(event)) return;
  if (down && event.key === "Enter") { event.preventDefault(); $("chat-text").focus(); return; }
  if (!Object.hasOwn(KEYS, event.code)) return;
  event.preventDefault();
  if (down) held.add(event.code); else held.delete(event.code);
  steer();
}

// ---------------------------------------------------------------------- wiring
function credentials() {
  return [$("name").value.trim(), $("password").value];
}

function start() {
  session = new GameSession(events);
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const account = await attempt("logging in", () => session.login(...credentials()));
    if (account) await loggedIn(account);
  });
  $("register").addEventListener("click", async () => {
    const account = await attempt("registering", () => session.register(...credentials()));
    if (account) await loggedIn(account);
  });
  $("create-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = $("new-character").value.trim();
    if (await attempt(`creating ${name}`, () => session.createCharacter(name))) {
      $("new-character").value = "";
      await listCharacters();
    }
  });
  $("channel").addEventListener("change", () => { $("whisper-to").hidden = $("channel").value !== "whisper"; });
  $("chat-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("chat-text").value.trim();
    if (!text) return;
    $("chat-text").value = "";
    try {
      await session.chat($("channel").value, text, $("whisper-to").value.trim());
      if ($("channel").value === "whisper") chatLine(`[to ${$("whisper-to").value.trim()}] ${text}`, "whisper");
    } catch (error) {
      chatLine(`not sent: ${error.message}`, "error");
    }
  });
  $("chat-text").addEventListener("keydown", (event) => {
    if (event.key === "Escape") $("zone").focus();
  });
  document.addEventListener("keydown", (event) => onKey(event, true));
  document.addEventListener("keyup", (event) => onKey(event, false));
  window.addEventListener("blur", () => { held.clear(); if (session.zone) steer(); });
  show("login-screen");
  document.body.dataset.ready = "1";
}

start();
