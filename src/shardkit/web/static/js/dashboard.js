// The operator dashboard: SCRAM login through the bridge (admins only: the web process checks
// the role the master gave this session), the cluster's figures from /dashboard/status.json,
// and the GM port, with this admin's own GM ticket, for who is online, broadcast and kick
// (the GM server checks and audits them as for any console).

import { Bridge, RpcError, targetOf } from "./rpc.js";
import { ScramClient } from "./scram.js";
import { lineChart } from "./chart.js";

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 5000;

const bridge = new Bridge();
let master = null;
let gm = null;
let timer = null;

function status(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

function cell(row, text, className = "") {
  const td = row.insertCell();
  td.textContent = text === null || text === undefined ? "-" : String(text);
  if (className) td.className = className;
  return td;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}h${String(m).padStart(2, "0")}m` : `${m}m${String(s % 60).padStart(2, "0")}s`;
}

function table(headings, rows) {
  const t = document.createElement("table");
  const head = t.createTHead().insertRow();
  for (const h of headings) {
    const th = document.createElement("th");
    th.textContent = h;
    head.append(th);
  }
  const body = t.createTBody();
  for (const { cells, data } of rows) {
    const row = body.insertRow();
    Object.assign(row.dataset, data || {});
    for (const [text, className] of cells) cell(row, text, className);
  }
  return t;
}

const state = (up) => [up ? "up" : "down", up ? "up" : "down"];

// ------------------------------------------------------------------ rendering
function renderWorlds(worlds) {
  const box = $("worlds");
  box.replaceChildren();
  const select = $("broadcast-world");
  for (const option of [...select.options].slice(1)) option.remove();
  for (const w of worlds) {
    select.add(new Option(w.name, w.name));
    const card = document.createElement("div");
    card.className = "card";
    card.dataset.world = w.name;
    const title = document.createElement("h3");
    title.textContent = `${w.name}: ${w.status}, ${w.population} / ${w.capacity} players,`
      + ` ${w.queue} queued`;
    const d = w.daemon;
    const daemon = document.createElement("p");
    daemon.textContent = `daemon ${d.address ?? "?"}: ${d.up ? "up" : "down"}, up for`
      + ` ${duration(d.uptime_s)}, WorldServers ${d.world_servers_up ?? "-"} of`
      + ` ${d.world_servers_configured ?? "-"}, imps ${d.imps ?? "-"}`;
    card.append(title, daemon,
      table(["WorldServer", "address", "state", "uptime", "restarts", "players", "zones up"],
        w.world_servers.map((s) => ({
          data: { cluster: s.cluster },
          cells: [[`${w.name}/${s.cluster}`], [s.address], state(s.up), [duration(s.uptime_s)],
                  [s.restarts], [s.players], [s.zones_up]],
        }))),
      table(["zone", "WorldServer", "players", "tick mean ms", "tick p99 ms", "starts"],
        w.zones.map((z) => ({
          data: { zone: z.name },
          cells: [[z.name], [z.cluster], [z.players], [z.tick_ms], [z.tick_p99_ms], [z.starts]],
        }))));
    box.append(card);
  }
}

function renderProcesses(processes) {
  const body = $("processes");
  body.replaceChildren();
  for (const p of processes) {
    const row = body.insertRow();
    for (const [text, className] of [[p.process], [p.address], state(p.up),
                                     [duration(p.uptime_s)], [p.cpu_s], [p.rss_mb]]) {
      cell(row, text, className);
    }
  }
}

function renderCharts(history) {
  const series = (key) => history.map((point) => [point.at, point[key]]);
  lineChart($("chart-population"), series("population"));
  lineChart($("chart-logins"), series("logins"), { color: "#181" });
  lineChart($("chart-tick"), series("tick_ms"), { color: "#a11", unit: "" });
}

function renderPlayers(who) {
  const body = $("players");
  body.replaceChildren();
  for (const c of who.characters) {
    const row = body.insertRow();
    row.dataset.character = c.character || c.account;
    for (const text of [c.world, c.cluster, c.zone, c.character, c.account, c.address]) {
      cell(row, text);
    }
    const kick = document.createElement("button");
    kick.textContent = "Kick";
    kick.dataset.kick = c.character || c.account;
    kick.addEventListener("click", () => act(`kicking ${kick.dataset.kick}`, () =>
      gm.call("kick", kick.dataset.kick, "kicked by an administrator", c.world)));
    row.insertCell().append(kick);
  }
  if (who.unreachable.length) status(`no answer from ${who.unreachable.join(", ")}`, true);
}

// ------------------------------------------------------------------- talking
async function figures() {
  const response = await fetch("/dashboard/status.json", {
    headers: { Authorization: `Bearer ${bridge.session}` }, cache: "no-store",
  });
  const body = await response.json();
  if (!response.ok) throw new RpcError("forbidden", body.error || `HTTP ${response.status}`);
  return body;
}

async function refresh() {
  try {
    const data = await figures();
    const m = data.master;
    $("summary").textContent = `master ${m.up ? "up" : "down"} for ${duration(m.uptime_s)}:`
      + ` ${m.sessions ?? 0} logged in, ${m.queued ?? 0} queued; sampled every`
      + ` ${data.interval_s} s`;
    renderWorlds(data.worlds || []);
    renderProcesses(data.processes || []);
    renderCharts(data.history || []);
    renderPlayers(await gm.call("who", "", "", "", 200));
    document.body.dataset.refreshed = String(Date.now());
  } catch (error) {
    status(`refresh: ${error.message}`, true);
  }
}

async function act(what, action) {
  status(`${what}...`);
  try {
    const result = await action();
    status(`${what}: done ${JSON.stringify(result)}`);
    await refresh();
  } catch (error) {
    status(`${what}: ${error.message}`, true);
  }
}

function loggedOut(reason) {
  clearInterval(timer);
  $("board").hidden = true;
  $("login-screen").hidden = false;
  $("who").textContent = "";
  status(reason, true);
}

async function login(name, password) {
  master = await bridge.open("master", {
    kicked: (reason) => loggedOut(`logged out: ${reason}`),
    onClose: (code, reason) => { if (gm) loggedOut(`the master link closed: ${reason}`); },
  });
  const scram = new ScramClient(name, password);
  const started = await master.call("login_start", name, scram.first());
  const done = await master.call("login_finish", await scram.final(started.server_first));
  scram.verify(done.server_final);
  try {
    await figures();  // the web process decides: admins only
  } catch (error) {
    master.close();
    throw error;
  }
  const entry = await master.call("gm_ticket");
  gm = await bridge.open(targetOf(entry.host, entry.port), {
    onClose: (code, reason) => loggedOut(`the GM link closed: ${reason}`),
  });
  await gm.call("gm_login", entry.ticket);
  return done.account;
}

function start() {
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    status("logging in...");
    try {
      const account = await login($("name").value.trim(), $("password").value);
      $("who").textContent = `${account.name} (${account.role})`;
      $("login-screen").hidden = true;
      $("board").hidden = false;
      status("");
      await refresh();
      timer = setInterval(refresh, REFRESH_MS);
    } catch (error) {
      status(`refused: ${error.message}`, true);
    }
  });
  $("broadcast-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("broadcast-text").value.trim();
    const world = $("broadcast-world").value;
    act(`broadcasting to ${world || "every world"}`, () => gm.call("broadcast", text, world));
  });
  document.body.dataset.ready = "1";
}

start();
