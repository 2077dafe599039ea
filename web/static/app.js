// The recorder's web configuration page: plain JavaScript, no build step, no network beyond this device.
// It reads and writes through the same service as the console: the page's JSON API (/api/...) for the
// session and the Heat Map Configuration form, and ISAPI with ?format=json for everything else.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { csrf: null, choices: null, channels: [], draft: null, saved: null, drawing: [],
                cursor: [0.5, 0.5], liveTimer: null, statusTimer: null, liveUrl: null, view: null };

// ------------------------------------------------------------------ requests

async function api(method, url, body) {
  const headers = {};
  if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, { method, headers, credentials: "same-origin",
                                      body: body === undefined ? undefined : JSON.stringify(body) });
  let doc = null;
  const kind = response.headers.get("Content-Type") || "";
  if (kind.includes("json")) doc = await response.json();
  if (response.status === 401 && !url.startsWith("/api/login") && !url.startsWith("/api/session")) {
    showLogin("Your session has ended; log in again.");
    throw new Error("log in first");
  }
  if (!response.ok) {
    const reason = doc && (doc.error || doc.errorMsg || doc.subStatusCode) || `${response.status} ${response.statusText}`;
    throw new Error(reason);
  }
  return doc;
}

function say(id, text, kind) {
  const el = $(id);
  el.textContent = text || "";
  el.className = "message" + (kind ? " " + kind : "");
}

// ------------------------------------------------------------------ session

async function boot() {
  let s;
  try {
    s = await fetch("/api/session", { credentials: "same-origin" }).then((r) => r.json());
  } catch (e) {
    document.body.textContent = "The recorder does not answer.";
    return;
  }
  $("device-name").textContent = s.deviceName;
  $("device-model").textContent = `${s.model} ${s.firmwareVersion}`;
  if (!s.activated) return show("activate");
  if (!s.user) return showLogin();
  state.csrf = s.csrf;
  await enter();
}

function showLogin(message) {
  state.csrf = null;
  $("nav").hidden = true;
  show("login");
  say("login-message", message || "", message ? "error" : "");
  $("login-password").value = "";
  $("login-password").focus();
}

$("activate-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    await api("POST", "/api/activate", { password: $("activate-password").value, confirm: $("activate-confirm").value });
    showLogin();
    say("login-message", "Device activated. Log in as admin.", "ok");
  } catch (e) { say("activate-message", e.message, "error"); }
});

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const s = await api("POST", "/api/login", { user: $("login-user").value, password: $("login-password").value });
    state.csrf = s.csrf;
    await enter();
  } catch (e) { say("login-message", e.message, "error"); }
});

$("logout").addEventListener("click", async () => {
  if (!(await leaveConfig())) return;
  await api("POST", "/api/logout", {});
  showLogin("Logged out.");
});

async function enter() {
  state.choices = await api("GET", "/api/choices");
  const list = await api("GET", "/ISAPI/System/Video/inputs/channels?format=json");
  state.channels = list.VideoInputChannelList.VideoInputChannel;
  for (const id of ["cfg-camera", "s-camera"]) {
    const select = $(id);
    select.replaceChildren(...state.channels.map((c) => option(c.id, `${c.id}. ${c.name}`)));
  }
  $("s-type").replaceChildren(...state.choices.reportTypes.map((t) => option(t.value, t.label)));
  $("s-model").replaceChildren(...state.choices.models.map((m) => option(m.value, m.label)));
  const time = await api("GET", "/ISAPI/System/time?format=json");
  $("s-date").value = time.Time.localTime.slice(0, 10);
  buildParameterRows();
  buildScheduleRows();
  $("nav").hidden = false;
  route();
}

function option(value, label) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = label;
  return o;
}

// ------------------------------------------------------------------ views

function show(name) {
  for (const v of ["activate", "login", "config", "search", "status"]) $(`view-${v}`).hidden = v !== name;
  for (const v of ["config", "search", "status"]) {
    const link = $(`nav-${v}`);
    if (v === name) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  state.view = name;
  clearInterval(state.liveTimer);
  clearInterval(state.statusTimer);
  if (name === "config") state.liveTimer = setInterval(refreshLive, 400);
  if (name === "status") { refreshStatus(); state.statusTimer = setInterval(refreshStatus, 2000); }
}

async function route() {
  if (!state.csrf) return;
  const name = (location.hash || "#config").slice(1);
  if (state.view === "config" && name !== "config" && !(await leaveConfig())) {
    history.replaceState(null, "", "#config");
    return;
  }
  if (name === "search") show("search");
  else if (name === "status") show("status");
  else { show("config"); await loadChannel(); }
}
window.addEventListener("hashchange", route);

async function leaveConfig() {
  return state.view !== "config" || !changed() || confirm("Discard unsaved changes?");
}

// ------------------------------------------------------------------ Heat Map Configuration

function channelId() { return Number($("cfg-camera").value); }

// While a camera's settings load, its form is disabled: a tick or a value entered on the
// previous camera's form would otherwise be overwritten when the new one arrives.
async function loadChannel() {
  const busy = ["cfg-enabled", "area-settings", "parameters", "schedule", "cfg-save"].map($);
  for (const e of busy) e.disabled = true;
  $("view-config").setAttribute("aria-busy", "true");
  try {
    const form = await api("GET", `/api/channels/${channelId()}/heatmap`);
    state.saved = JSON.stringify(form);
    state.draft = form;
    state.drawing = [];
    fillForm();
    say("cfg-message", "");
    say("area-message", "");
    refreshLive();
  } finally {
    for (const e of busy) e.disabled = false;
    $("view-config").setAttribute("aria-busy", "false");
  }
}

let lastCamera = null;
$("cfg-camera").addEventListener("focus", () => { lastCamera = $("cfg-camera").value; });
$("cfg-camera").addEventListener("change", async () => {
  if (changed() && !confirm("Discard unsaved changes?")) { $("cfg-camera").value = lastCamera; return; }
  lastCamera = $("cfg-camera").value;
  await loadChannel();
});

function changed() { return state.draft !== null && JSON.stringify(state.draft) !== state.saved; }
function markChanged() { $("cfg-unsaved").hidden = !changed(); }

function buildParameterRows() {
  const rows = $("param-rows");
  rows.replaceChildren();
  for (const p of state.choices.parameters) {
    const div = document.createElement("div");
    div.className = "param";
    const label = document.createElement("label");
    label.htmlFor = `p-${p.key}`;
    label.textContent = p.label;
    const range = document.createElement("input");
    Object.assign(range, { type: "range", id: `p-${p.key}`, min: p.min, max: p.max, step: 1 });
    const number = document.createElement("input");
    Object.assign(number, { type: "number", id: `p-${p.key}-value`, min: p.min, max: p.max, step: 1 });
    number.setAttribute("aria-label", `${p.label} value`);
    const set = (v) => {
      const n = Math.max(p.min, Math.min(p.max, Math.round(Number(v))));
      if (Number.isNaN(n)) return;
      range.value = n; number.value = n;
      state.draft.parameters[p.key] = n;
      markChanged();
    };
    range.addEventListener("input", () => set(range.value));
    number.addEventListener("change", () => set(number.value));
    div.append(label, range, number);
    rows.append(div);
  }
}

const DAY_LABELS = { mon: "Monday", tue: "Tuesday", wed: "Wednesday", thu: "Thursday", fri: "Friday",
                     sat: "Saturday", sun: "Sunday" };

function buildScheduleRows() {
  const body = $("sched-rows");
  body.replaceChildren();
  for (const day of state.choices.weekdays) {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    const label = document.createElement("label");
    label.htmlFor = `sched-${day}`;
    label.textContent = DAY_LABELS[day];
    th.append(label);
    const td = document.createElement("td");
    const input = document.createElement("input");
    Object.assign(input, { type: "text", id: `sched-${day}`, placeholder: "09:00-21:00" });
    input.addEventListener("input", () => { state.draft.schedule = readSchedule(false); markChanged(); });
    td.append(input);
    tr.append(th, td);
    body.append(tr);
  }
  $("sched-always").addEventListener("change", () => {
    for (const day of state.choices.weekdays) $(`sched-${day}`).disabled = $("sched-always").checked;
    state.draft.schedule = readSchedule(false);
    markChanged();
  });
}

function readSchedule(strict) {
  if ($("sched-always").checked) return [];
  const out = [];
  for (const day of state.choices.weekdays) {
    const text = $(`sched-${day}`).value.trim();
    if (!text) continue;
    for (const part of text.split(",")) {
      const m = part.trim().match(/^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$/);
      if (!m) {
        if (strict) throw new Error(`${DAY_LABELS[day]}: "${part.trim()}" is not a time range such as 09:00-21:00`);
        continue;
      }
      const pad = (h, mi) => `${h.padStart(2, "0")}:${mi}`;
      out.push({ day, begin: pad(m[1], m[2]), end: pad(m[3], m[4]) });
    }
  }
  if (strict && out.length === 0) throw new Error("the schedule has no time to count: tick around the clock, or give times");
  return out;
}

function fillForm() {
  const d = state.draft;
  $("cfg-enabled").checked = d.enabled;
  for (const p of state.choices.parameters) {
    $(`p-${p.key}`).value = d.parameters[p.key];
    $(`p-${p.key}-value`).value = d.parameters[p.key];
  }
  $("sched-always").checked = d.schedule.length === 0;
  for (const day of state.choices.weekdays) {
    const input = $(`sched-${day}`);
    input.value = d.schedule.filter((w) => w.day === day).map((w) => `${w.begin}-${w.end}`).join(", ");
    input.disabled = d.schedule.length === 0;
  }
  renderAreas();
  markChanged();
}

$("cfg-enabled").addEventListener("change", () => { state.draft.enabled = $("cfg-enabled").checked; markChanged(); });

$("cfg-save").addEventListener("click", async () => {
  try {
    state.draft.schedule = readSchedule(true);
    const name = $("cfg-camera").selectedOptions[0].textContent;
    const saved = await api("PUT", `/api/channels/${channelId()}/heatmap`, state.draft);
    delete saved.saved;
    state.saved = JSON.stringify(saved);
    state.draft = saved;
    fillForm();
    say("cfg-message", `Saved. ${name} uses the new heat map settings now.`, "ok");
  } catch (e) { say("cfg-message", e.message, "error"); }
});

// ------------------------------------------------------------------ the live view and area drawing

async function refreshLive() {
  if (state.view !== "config" || document.hidden) return;
  try {
    const r = await fetch(`/ISAPI/Streaming/channels/${channelId()}01/picture`, { credentials: "same-origin", cache: "no-store" });
    if (!r.ok) return;
    const url = URL.createObjectURL(await r.blob());
    $("live-img").src = url;
    if (state.liveUrl) URL.revokeObjectURL(state.liveUrl);
    state.liveUrl = url;
  } catch (e) { /* the next refresh tries again */ }
}

const canvas = $("live-canvas");
canvas.width = 640;
canvas.height = 360;
const COLORS = ["#ff4d4f", "#40a9ff", "#73d13d", "#ffc53d", "#b37feb", "#36cfc9", "#ff85c0", "#ffa940"];

function toPoint(ev) {
  const box = canvas.getBoundingClientRect();
  const x = Math.min(1, Math.max(0, (ev.clientX - box.left) / box.width));
  const y = Math.min(1, Math.max(0, (ev.clientY - box.top) / box.height));
  return [Math.round(x * 10000) / 10000, Math.round(y * 10000) / 10000];
}

function addPoint(p) {
  const { maxAreas, maxPoints } = state.choices;
  if (state.draft.regions.length >= maxAreas) {
    say("area-message", `Refused: at most ${maxAreas} areas; delete one first.`, "error");
    return;
  }
  if (state.drawing.length >= maxPoints) {
    say("area-message", `An area has at most ${maxPoints} points: right click to finish it.`, "error");
    return;
  }
  state.drawing.push(p);
  say("area-message", `Area ${state.draft.regions.length + 1}: ${state.drawing.length} point(s); right click finishes.`);
  renderAreas();
}

async function finishArea() {
  const points = state.drawing;
  state.drawing = [];
  if (points.length === 0) return;
  try {
    const check = await api("POST", "/api/area-check", { points });
    if (check.problem) {
      say("area-message", `Area refused: ${check.problem}.`, "error");
    } else {
      state.draft.regions.push(points);
      say("area-message", `Area ${state.draft.regions.length} added (not saved yet).`, "ok");
    }
  } catch (e) { say("area-message", e.message, "error"); }
  renderAreas();
  markChanged();
}

canvas.addEventListener("click", (ev) => { ev.preventDefault(); addPoint(toPoint(ev)); });
canvas.addEventListener("contextmenu", (ev) => { ev.preventDefault(); finishArea(); });
canvas.addEventListener("keydown", (ev) => {
  const step = ev.shiftKey ? 0.05 : 0.01;
  const c = state.cursor;
  const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
  if (moves[ev.key]) {
    c[0] = Math.min(1, Math.max(0, Math.round((c[0] + moves[ev.key][0]) * 100) / 100));
    c[1] = Math.min(1, Math.max(0, Math.round((c[1] + moves[ev.key][1]) * 100) / 100));
  } else if (ev.key === "Enter" || ev.key === " ") addPoint([c[0], c[1]]);
  else if (ev.key === "f" || ev.key === "F") finishArea();
  else if (ev.key === "Escape") { state.drawing = []; say("area-message", "Drawing abandoned."); }
  else return;
  ev.preventDefault();
  renderAreas();
});
canvas.addEventListener("focus", renderAreas);
canvas.addEventListener("blur", renderAreas);

function renderAreas() {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  const outline = (points, color, closed, n) => {
    ctx.strokeStyle = color;
    ctx.fillStyle = color + "33";
    ctx.lineWidth = 2;
    ctx.beginPath();
    points.forEach(([x, y], i) => (i ? ctx.lineTo(x * w, y * h) : ctx.moveTo(x * w, y * h)));
    if (closed) { ctx.closePath(); ctx.fill(); }
    ctx.stroke();
    for (const [x, y] of points) { ctx.fillStyle = color; ctx.fillRect(x * w - 3, y * h - 3, 6, 6); }
    if (n && points.length) {
      const cx = points.reduce((s, p) => s + p[0], 0) / points.length * w;
      const cy = points.reduce((s, p) => s + p[1], 0) / points.length * h;
      ctx.font = "bold 16px sans-serif";
      ctx.fillStyle = "#fff";
      ctx.strokeStyle = "#000";
      ctx.lineWidth = 3;
      ctx.strokeText(String(n), cx - 5, cy + 6);
      ctx.fillText(String(n), cx - 5, cy + 6);
    }
  };
  state.draft && state.draft.regions.forEach((area, k) => outline(area, COLORS[k % COLORS.length], true, k + 1));
  if (state.drawing.length) outline(state.drawing, "#ffffff", false, 0);
  if (document.activeElement === canvas) {
    const [x, y] = state.cursor;
    ctx.strokeStyle = "#ffff00";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(x * w - 10, y * h); ctx.lineTo(x * w + 10, y * h);
    ctx.moveTo(x * w, y * h - 10); ctx.lineTo(x * w, y * h + 10);
    ctx.stroke();
  }
  const list = $("area-list");
  list.replaceChildren();
  if (!state.draft) return;
  if (state.draft.regions.length === 0) {
    const li = document.createElement("li");
    li.textContent = "No areas: the whole picture is analysed.";
    li.className = "muted";
    list.append(li);
  }
  state.draft.regions.forEach((area, k) => {
    const li = document.createElement("li");
    li.textContent = `Area ${k + 1}: ${area.length} points`;
    const del = document.createElement("button");
    del.type = "button";
    del.textContent = `Delete Area ${k + 1}`;
    del.addEventListener("click", () => {
      state.draft.regions.splice(k, 1);
      say("area-message", `Area ${k + 1} deleted (not saved yet).`);
      renderAreas();
      markChanged();
    });
    li.append(del);
    list.append(li);
  });
}

$("area-delete-all").addEventListener("click", () => {
  state.draft.regions = [];
  state.drawing = [];
  say("area-message", "All areas deleted (not saved yet).");
  renderAreas();
  markChanged();
});

// ------------------------------------------------------------------ VCA Search > Heat Map

function searchQuery() {
  return { channel: Number($("s-camera").value), reportType: $("s-type").value, date: $("s-date").value,
           model: $("s-model").value };
}

function reportUrl(q, what, extra) {
  const params = new URLSearchParams({ reportType: q.reportType, date: q.date, statisticalModel: q.model, ...extra });
  return `/ISAPI/System/Video/inputs/channels/${q.channel}/heatMap/${what}?${params}`;
}

$("search-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const q = searchQuery();
  say("search-message", "Counting...");
  try {
    const doc = await api("POST", `/ISAPI/System/Video/inputs/channels/${q.channel}/heatMap/search?format=json`, {
      HeatMapSearchDescription: { reportType: q.reportType, statisticalModel: q.model,
                                  timeSpanList: { timeSpan: { startTime: `${q.date}T00:00:00` } } } });
    showResult(q, doc.HeatMapSearchResult);
    say("search-message", "");
  } catch (e) {
    $("search-result").hidden = true;
    say("search-message", `No report: ${e.message}`, "error");
  }
});

function seconds(s) {
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return h ? `${h} h ${m} min` : m ? `${m} min ${s % 60} s` : `${s} s`;
}

function showResult(q, r) {
  $("search-result").hidden = false;
  $("s-totals").textContent = `${r.channelName}: ${r.totalVisits} visits, ${seconds(r.totalDwellSeconds)} dwell ` +
    `(${r.timeSpan.startTime.replace("T", " ")} to ${r.timeSpan.endTime.replace("T", " ")}).`;
  $("s-picture").src = reportUrl(q, "picture", { t: Date.now() });
  const buckets = r.HeatMapBucketList.HeatMapBucket;
  drawChart(buckets, q);
  const body = $("s-table").tBodies[0];
  body.replaceChildren(...buckets.map((b) => {
    const tr = document.createElement("tr");
    const cells = [label(b.startTime, q.reportType), b.hasData ? b.visits : "no data",
                   b.hasData ? seconds(b.dwellSeconds) : "no data"];
    for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.append(td); }
    return tr;
  }));
}

function label(iso, kind) {
  if (kind === "daily") return iso.slice(11, 16);
  if (kind === "yearly") return iso.slice(0, 7);
  return iso.slice(5, 10);
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

function drawChart(buckets, q) {
  const chart = $("s-chart");
  chart.replaceChildren();
  const W = 560, H = 300, L = 48, R = 48, T = 16, B = 36;
  const visits = buckets.map((b) => (b.hasData ? b.visits : 0));
  const dwell = buckets.map((b) => (b.hasData ? b.dwellSeconds : 0));
  // Visits are counts: an even top keeps the middle tick a whole number (0, 2, 4; never 0, 2, 3).
  const vmax = 2 * Math.ceil(Math.max(1, ...visits) / 2), dmax = Math.max(1, ...dwell);
  const bw = (W - L - R) / buckets.length;
  const y = (v, max) => T + (H - T - B) * (1 - v / max);
  chart.append(svg("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }));
  chart.append(svg("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }));
  chart.append(svg("line", { class: "axis", x1: W - R, y1: T, x2: W - R, y2: H - B }));
  for (const f of [0, 0.5, 1]) {
    chart.append(svg("text", { class: "tick", x: L - 4, y: y(vmax * f, vmax) + 3, "text-anchor": "end" }, Math.round(vmax * f)));
    chart.append(svg("text", { class: "tick", x: W - R + 4, y: y(dmax * f, dmax) + 3 }, seconds(dmax * f)));
  }
  chart.append(svg("text", { class: "tick", x: 4, y: 10 }, "visits (bars)"));
  chart.append(svg("text", { class: "tick", x: W - 4, y: 10, "text-anchor": "end" }, "dwell (line)"));
  const points = [];
  buckets.forEach((b, i) => {
    const x = L + i * bw;
    if (!b.hasData) {
      chart.append(svg("rect", { class: "nodata", x: x + 1, y: T, width: Math.max(1, bw - 2), height: H - T - B },
                       undefined));
    } else {
      chart.append(svg("rect", { class: "bar", x: x + bw * 0.15, y: y(visits[i], vmax), width: bw * 0.7,
                                 height: H - B - y(visits[i], vmax) }));
      points.push(`${x + bw / 2},${y(dwell[i], dmax)}`);
    }
    const every = Math.ceil(buckets.length / 12);
    if (i % every === 0) chart.append(svg("text", { class: "tick", x: x + bw / 2, y: H - B + 14, "text-anchor": "middle" },
                                          label(b.startTime, q.reportType)));
  });
  if (points.length === 1) {
    const [px, py] = points[0].split(",");
    chart.append(svg("circle", { cx: px, cy: py, r: 3, fill: "#1f6feb" }));
  } else if (points.length) chart.append(svg("polyline", { class: "line", points: points.join(" ") }));
}

$("s-export").addEventListener("click", () => download("export", { fileType: "xlsx" }));
$("s-export-png").addEventListener("click", () => download("export", { fileType: "png" }));

async function download(what, extra) {
  const q = searchQuery();
  say("search-message", "Exporting...");
  try {
    const r = await fetch(reportUrl(q, what, extra), { credentials: "same-origin" });
    if (!r.ok) {
      const doc = await r.json().catch(() => null);
      throw new Error(doc && doc.errorMsg || `${r.status}`);
    }
    const name = (r.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/);
    const a = document.createElement("a");
    a.href = URL.createObjectURL(await r.blob());
    a.download = name ? name[1] : `heatmap.${extra.fileType}`;
    document.body.append(a);
    a.click();
    a.remove();
    say("search-message", `Exported ${a.download}.`, "ok");
  } catch (e) { say("search-message", `Not exported: ${e.message}`, "error"); }
}

// ------------------------------------------------------------------ Status

async function refreshStatus() {
  if (state.view !== "status") return;
  try {
    const s = await api("GET", "/api/status");
    $("status-system").textContent = `Appliance clock ${s.now.replace("T", " ")}, up ${seconds(s.uptimeSeconds)}, ` +
      `CPU ${s.cpuPercent} %, memory ${Math.round(s.memoryMB)} MB`;
    const st = s.storage;
    $("status-storage").textContent = st.state === "ok" ? "Statistics store: ok" :
      `Statistics store: FAILING since ${(st.since || "").replace("T", " ")}: ${st.lastError}. ` +
      `${st.heldChannelHours} channel-hours held in memory, ${st.lostChannelHours} lost.`;
    $("status-storage").className = st.state === "ok" ? "muted" : "state-video_loss";
    $("status-rows").replaceChildren(...s.channels.map((c) => {
      const tr = document.createElement("tr");
      const cost = c.heatMapEnabled && c.budgetUs ? `${c.medianUs} / ${c.budgetUs}` : "-";
      const cells = [c.id, c.name, c.stateLabel, c.heatMapEnabled ? "on" : "off", c.fps.toFixed(1), cost,
                     c.heatMapEnabled ? c.p99Us : "-", c.overruns, c.skipped, c.drops,
                     c.state === "video_loss" ? `VIDEO LOSS ${c.lastError}` : (c.width ? `${c.codec} ${c.width}x${c.height}` : "-")];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        td.textContent = text;
        if (i === 2) td.className = `state-${c.state}`;
        tr.append(td);
      });
      return tr;
    }));
  } catch (e) { $("status-system").textContent = `Status unavailable: ${e.message}`; }
}

boot();
