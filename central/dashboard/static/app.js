// citygate dashboard front end: hash-routed views over the JSON API, live updates by SSE.
// No framework and no external assets: the map and the charts are SVG written here.
"use strict";

const $ = (sel) => document.querySelector(sel);
const SVGNS = "http://www.w3.org/2000/svg";
const VIEWS = ["map", "air", "traffic", "cameras", "alerts", "gateways", "history"];
const REFRESH_MS = 10000;
// Tables show a page of rows at a time: Chromium takes 0.3-0.6 s to lay out a 1,000-row table,
// against a few milliseconds for a page of 100 (bench/results/dashboard.json).
const PAGE_ROWS = 100;

const state = {
  config: null,
  standard: null,
  view: "map",
  sensors: null,
  air: null,
  traffic: null,
  cameras: null,
  camera: null,
  alerts: new Map(),
  gateways: new Map(),
  selected: null,
  airSelected: null,
  junction: null,
  pages: { air: 0, traffic: 0, cameras: 0, alerts: 0 },
};

function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => (
    { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function fmt(value, digits = 1) {
  if (value === null || value === undefined || value === "") return "–";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(digits);
  return String(value);
}

function ago(ts) {
  if (!ts) return "never";
  const s = Math.max(0, Date.now() / 1000 - ts);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${(s / 3600).toFixed(1)} h ago`;
}

function clock(ts) {
  return new Date(ts * 1000).toLocaleString(undefined, { hour12: false });
}

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body.error || `${path}: HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

// The rows of table `name` on its current page, and the pager under the table saying which.
function paged(name, rows) {
  const pages = Math.max(1, Math.ceil(rows.length / PAGE_ROWS));
  const at = Math.min(state.pages[name], pages - 1);
  state.pages[name] = at;
  const from = at * PAGE_ROWS;
  const shown = rows.slice(from, from + PAGE_ROWS);
  $(`#${name}-pager`).innerHTML = rows.length <= PAGE_ROWS
    ? `${rows.length} rows`
    : `<button type="button" data-page="${at - 1}" ${at === 0 ? "disabled" : ""}>‹ previous</button>
       rows ${from + 1}–${from + shown.length} of ${rows.length}
       <button type="button" data-page="${at + 1}" ${at >= pages - 1 ? "disabled" : ""}>next ›</button>`;
  return shown;
}

function pager(name, render) {
  $(`#${name}-pager`).addEventListener("click", (e) => {
    const button = e.target.closest("button[data-page]");
    if (!button) return;
    state.pages[name] = Number(button.dataset.page);
    render();
  });
  $(`#${name}-filter`).addEventListener("input", () => { state.pages[name] = 0; render(); });
}

function status(text) {
  $("#status").textContent = text;
}

// ---- time range ------------------------------------------------------------------------

function range() {
  const choice = $("#range").value;
  if (choice !== "custom") return { start: choice, stop: "" };
  const from = $("#range-from").value, to = $("#range-to").value;
  const iso = (v) => (v ? new Date(v).toISOString().replace(/\.\d{3}Z$/, "Z") : "");
  return { start: iso(from) || "-1h", stop: iso(to) };
}

function rangeQuery() {
  const r = range();
  return `start=${encodeURIComponent(r.start)}` + (r.stop ? `&stop=${encodeURIComponent(r.stop)}` : "");
}

// ---- charts ------------------------------------------------------------------------------

const PALETTE = ["#3d8bfd", "#f5a524", "#30a46c", "#e5484d", "#a371f7", "#12a594", "#d6409f", "#ffb224"];

function lineChart(container, series, bands) {
  const names = Object.keys(series).filter((k) => series[k].length);
  if (!names.length) {
    container.innerHTML = '<p class="muted">No data in this range.</p>';
    return;
  }
  const W = 640, H = 260, L = 48, R = 10, T = 10, B = 24;
  let t0 = Infinity, t1 = -Infinity, v1 = 0;
  for (const n of names) for (const [t, v] of series[n]) {
    t0 = Math.min(t0, t); t1 = Math.max(t1, t);
    if (v !== null) v1 = Math.max(v1, v);
  }
  if (bands && bands.length) v1 = Math.max(v1, Math.min(bands[bands.length - 1].lo * 1.1, v1 * 1.5));
  if (t1 === t0) t1 = t0 + 1;
  v1 = v1 > 0 ? v1 * 1.08 : 1;
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - v / v1) * (H - T - B);
  const parts = [`<svg xmlns="${SVGNS}" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img">`];
  for (const b of bands || []) {
    if (b.lo >= v1) continue;
    const top = y(Math.min(b.hi, v1)), bottom = y(b.lo);
    parts.push(`<rect class="band" x="${L}" y="${top}" width="${W - L - R}" height="${Math.max(0, bottom - top)}" fill="${esc(b.color)}"><title>${esc(b.name)}</title></rect>`);
  }
  parts.push(`<line class="axis" x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}"/>`);
  parts.push(`<line class="axis" x1="${L}" y1="${T}" x2="${L}" y2="${H - B}"/>`);
  for (let i = 0; i <= 4; i++) {
    const v = (v1 * i) / 4;
    parts.push(`<text class="tick" x="${L - 4}" y="${y(v) + 4}" text-anchor="end">${fmt(v, v1 < 5 ? 2 : 0)}</text>`);
  }
  for (let i = 0; i <= 4; i++) {
    const t = t0 + ((t1 - t0) * i) / 4;
    const label = new Date(t * 1000).toLocaleTimeString(undefined, { hour12: false, hour: "2-digit", minute: "2-digit" });
    parts.push(`<text class="tick" x="${x(t)}" y="${H - 6}" text-anchor="middle">${label}</text>`);
  }
  names.forEach((n, i) => {
    const d = series[n].filter(([, v]) => v !== null)
      .map(([t, v], j) => `${j ? "L" : "M"}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join("");
    parts.push(`<path class="line" d="${d}" stroke="${PALETTE[i % PALETTE.length]}"><title>${esc(n)}</title></path>`);
  });
  parts.push("</svg>");
  const legend = names.map((n, i) => `<span><i class="swatch" style="background:${PALETTE[i % PALETTE.length]}"></i> ${esc(n)}</span>`);
  container.innerHTML = parts.join("") + `<div class="chart-legend">${legend.join("")}</div>`;
}

// The band limits of one pollutant in the catalog's unit, for shading a chart.
function pollutantBands(pollutant) {
  const std = state.standard, p = std && std.pollutants[pollutant];
  if (!p) return [];
  const out = [];
  if (std.kind === "linear") {
    let lo = 0;
    p.breakpoints.forEach(([, hi, , iHi]) => {
      const band = std.bands.find((b) => iHi <= b.upper) || std.bands[std.bands.length - 1];
      out.push({ lo: lo / p.factor, hi: hi / p.factor, color: band.color, name: band.name });
      lo = hi;
    });
  } else {
    let lo = 0;
    p.limits.forEach((hi, i) => {
      out.push({ lo: lo / p.factor, hi: hi / p.factor, color: std.bands[i].color, name: std.bands[i].name });
      lo = hi;
    });
  }
  return out;
}

// ---- map ---------------------------------------------------------------------------------

function project(districts, sensors) {
  const points = sensors.map((s) => [s.lat, s.lon]);
  for (const d of districts) {
    const dLat = d.radius_m / 111320, dLon = d.radius_m / (111320 * Math.cos((d.lat * Math.PI) / 180));
    points.push([d.lat - dLat, d.lon - dLon], [d.lat + dLat, d.lon + dLon]);
  }
  if (!points.length) points.push([40.4, -3.7]);
  let la0 = Infinity, la1 = -Infinity, lo0 = Infinity, lo1 = -Infinity;
  for (const [la, lo] of points) {
    la0 = Math.min(la0, la); la1 = Math.max(la1, la); lo0 = Math.min(lo0, lo); lo1 = Math.max(lo1, lo);
  }
  const k = Math.cos((((la0 + la1) / 2) * Math.PI) / 180);
  const spanX = Math.max((lo1 - lo0) * k, 1e-4), spanY = Math.max(la1 - la0, 1e-4);
  const W = 1000, H = Math.round((W * spanY) / spanX) || 700, pad = 40;
  const s = (W - 2 * pad) / spanX;
  return {
    W: W, H: H + 2 * pad / 1,
    x: (lon) => pad + (lon - lo0) * k * s,
    y: (lat) => pad + (la1 - lat) * s,
    m: (meters) => (meters / 111320) * s,
  };
}

function renderMap() {
  const data = state.sensors;
  if (!data) return;
  const p = project(data.districts, data.sensors);
  const out = [`<svg xmlns="${SVGNS}" viewBox="0 0 ${p.W} ${p.H}" id="city-svg" role="img" aria-label="city map">`];
  // A plain street grid and a river give a sense of place without any tile server.
  for (let gx = 0; gx < p.W; gx += 50) out.push(`<line class="street" x1="${gx}" y1="0" x2="${gx}" y2="${p.H}"/>`);
  for (let gy = 0; gy < p.H; gy += 50) out.push(`<line class="street" x1="0" y1="${gy}" x2="${p.W}" y2="${gy}"/>`);
  out.push(`<path class="river" d="M0,${p.H * 0.78} C${p.W * 0.25},${p.H * 0.62} ${p.W * 0.45},${p.H * 0.95} ${p.W * 0.7},${p.H * 0.8} S${p.W},${p.H * 0.7} ${p.W},${p.H * 0.72}"/>`);
  for (const d of data.districts) {
    out.push(`<circle class="district" cx="${p.x(d.lon).toFixed(1)}" cy="${p.y(d.lat).toFixed(1)}" r="${p.m(d.radius_m).toFixed(1)}"/>`);
  }
  for (const d of data.districts) {
    out.push(`<text class="district-label" x="${p.x(d.lon).toFixed(1)}" y="${(p.y(d.lat) - p.m(d.radius_m) - 6).toFixed(1)}">${esc(d.name)}</text>`);
  }
  for (const s of data.sensors) {
    const cx = p.x(s.lon).toFixed(1), cy = p.y(s.lat).toFixed(1);
    const cls = `sensor ${s.alert ? "alerted" : ""} ${state.selected === s.sensor_id ? "selected" : ""}`;
    const attrs = `class="${cls}" data-sensor-id="${esc(s.sensor_id)}" data-state="${s.state}" fill="${esc(s.color)}"`;
    const title = `<title>${esc(s.sensor_id)}: ${esc(s.label)}</title>`;
    if (s.sensor_type === "traffic_signal") {
      out.push(`<rect ${attrs} x="${(cx - 4).toFixed(1)}" y="${(cy - 4).toFixed(1)}" width="8" height="8">${title}</rect>`);
    } else if (s.sensor_type === "camera") {
      const x = Number(cx), y = Number(cy);
      const corners = [[x, y - 5.5], [x + 5, y + 3.5], [x - 5, y + 3.5]].map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`);
      out.push(`<polygon ${attrs} points="${corners.join(" ")}">${title}</polygon>`);
    } else {
      out.push(`<circle ${attrs} cx="${cx}" cy="${cy}" r="4.5">${title}</circle>`);
    }
  }
  out.push("</svg>");
  $("#map").innerHTML = out.join("");
  const counts = {};
  for (const s of data.sensors) counts[s.state] = (counts[s.state] || 0) + 1;
  $("#map-summary").textContent = `${data.sensors.length} sensors in ${data.districts.length} districts · ` +
    Object.entries(counts).map(([k, v]) => `${k}: ${v}`).join(", ");
  const legend = state.standard.bands.map((b) => `<li><i class="swatch" style="background:${esc(b.color)}"></i>${esc(b.name)}</li>`);
  legend.push('<li><i class="swatch" style="background:#3d8bfd"></i>signal ok (square)</li>');
  legend.push('<li><i class="swatch" style="background:#d63384"></i>signal or camera fault</li>');
  legend.push('<li><i class="swatch" style="background:#3d8bfd"></i>camera ok (triangle)</li>');
  legend.push('<li><i class="swatch" style="background:#8a8f98"></i>silent</li>');
  legend.push('<li><i class="swatch" style="background:#fff"></i>white ring: active alert</li>');
  $("#map-legend").innerHTML = legend.join("");
  showSelected();
}

function showSelected() {
  const s = state.sensors && state.sensors.sensors.find((x) => x.sensor_id === state.selected);
  $("#map-selected").innerHTML = s
    ? `<b>${esc(s.sensor_id)}</b><br>${esc(s.sensor_type)} · ${esc(s.district)}<br>${esc(s.label)}<br>` +
      `last seen ${ago(s.last_seen)}${s.alert ? `<br>active alert: <span class="badge ${esc(s.alert)}">${esc(s.alert)}</span>` : ""}`
    : "Click a sensor.";
}

// ---- air quality ---------------------------------------------------------------------------

function renderAir() {
  const data = state.air;
  if (!data) return;
  const std = data.standard;
  $("#air-districts").innerHTML = data.districts.map((d) => `
    <div class="card" style="border-left-color:${esc(d.color)}" data-district="${esc(d.district)}">
      <div class="muted">${esc(d.district)}</div>
      <div class="big">${fmt(d.aqi)}</div>
      <div>${esc(d.band)} · ${esc(std.pollutants[d.dominant]?.label || d.dominant)}</div>
      <div class="muted">${d.sensors} sensors</div>
    </div>`).join("") || '<p class="muted">No air-quality data yet.</p>';
  const filter = $("#air-filter").value.trim().toLowerCase();
  const rows = data.sensors.filter((s) => !filter || `${s.sensor_id} ${s.district}`.toLowerCase().includes(filter));
  const head = `<tr><th>sensor</th><th>district</th><th>AQI</th><th>band</th><th>dominant</th>
    <th>PM2.5</th><th>PM10</th><th>NO2</th><th>O3</th><th>CO</th><th>last seen</th></tr>`;
  $("#air-table").innerHTML = head + paged("air", rows).map((s) => `
    <tr class="clickable" data-sensor-id="${esc(s.sensor_id)}">
      <td>${esc(s.sensor_id)}</td><td>${esc(s.district)}</td>
      <td class="num"><i class="swatch" style="background:${esc(s.color || "transparent")}"></i> ${fmt(s.aqi)}</td>
      <td>${esc(s.band || "–")}</td><td>${esc(std.pollutants[s.dominant]?.label || "–")}</td>
      <td class="num">${fmt(s.latest.pm25)}</td><td class="num">${fmt(s.latest.pm10)}</td>
      <td class="num">${fmt(s.latest.no2)}</td><td class="num">${fmt(s.latest.o3)}</td>
      <td class="num">${fmt(s.latest.co, 2)}</td><td>${ago(s.last_seen)}</td>
    </tr>`).join("");
  const select = $("#air-pollutant");
  if (!select.options.length || select.dataset.std !== std.id) {
    select.innerHTML = Object.entries(std.pollutants).map(([k, p]) => `<option value="${esc(k)}">${esc(p.label)}</option>`).join("");
    select.dataset.std = std.id;
  }
}

async function loadAirChart() {
  const sid = state.airSelected;
  if (!sid) return;
  const pollutant = $("#air-pollutant").value || "pm25";
  $("#air-chart-title").textContent = `${sid}: ${state.standard.pollutants[pollutant]?.label || pollutant}`;
  const data = await api(`/api/series?type=air_quality&sensor_id=${encodeURIComponent(sid)}&fields=${pollutant}&${rangeQuery()}`);
  lineChart($("#air-chart"), data.series, pollutantBands(pollutant));
}

// ---- traffic -----------------------------------------------------------------------------

function phaseCell(a, v) {
  const cls = ["red", "amber", "green", "flashing"].includes(v) ? v : "unknown";
  return `<span class="phase ${cls}" title="${a}: ${esc(v || "unknown")}">${a}</span>`;
}

function renderTraffic() {
  const rows = state.traffic || [];
  const filter = $("#traffic-filter").value.trim().toLowerCase();
  const shown = rows.filter((r) => !filter || `${r.sensor_id} ${r.district} ${r.faults.join(" ")}`.toLowerCase().includes(filter));
  const head = `<tr><th>junction</th><th>district</th><th>flow (veh)</th><th>occupancy</th><th>speed km/h</th>
    <th>cycle s</th><th>phases</th><th>faults</th><th>last seen</th></tr>`;
  $("#traffic-table").innerHTML = head + paged("traffic", shown).map((r) => `
    <tr class="clickable" data-sensor-id="${esc(r.sensor_id)}">
      <td>${esc(r.sensor_id)}</td><td>${esc(r.district)}</td>
      <td class="num">${fmt(r.intensity)}</td><td class="num">${r.occupancy == null ? "–" : (r.occupancy * 100).toFixed(0) + " %"}</td>
      <td class="num">${fmt(r.averageVehicleSpeed)}</td><td class="num">${fmt(r.cycleLength)}</td>
      <td>${"NESW".split("").map((a) => phaseCell(a, r.phases[a])).join(" ")}</td>
      <td class="${r.faults.length ? "fault" : "muted"}">${esc(r.faults.join(", ") || "none")}</td>
      <td>${ago(r.last_seen)}</td>
    </tr>`).join("");
}

async function loadJunction() {
  const sid = state.junction;
  if (!sid) return;
  $("#traffic-title").textContent = `Junction ${sid}`;
  const j = await api(`/api/traffic/${encodeURIComponent(sid)}`);
  const f = j.fields;
  const rows = [];
  for (let n = 1; n <= 8; n++) {
    if (!(`d${n}_intensity` in f) && !(`d${n}_fault` in f)) continue;
    const occ = f[`d${n}_occupancy`];
    rows.push(`<tr><td>d${n}</td><td class="num">${fmt(f[`d${n}_intensity`])}</td>
      <td class="num">${occ == null ? "–" : (occ * 100).toFixed(0) + " %"}</td>
      <td class="${f[`d${n}_fault`] && f[`d${n}_fault`] !== "none" ? "fault" : "muted"}">${esc(f[`d${n}_fault`] || "–")}</td></tr>`);
  }
  $("#traffic-detectors").innerHTML = `<table class="grid" id="detector-table"><tr><th>detector</th><th>flow</th><th>occupancy</th><th>fault</th></tr>${rows.join("")}</table>`;
  const data = await api(`/api/series?type=traffic_signal&sensor_id=${encodeURIComponent(sid)}&fields=intensity,averageVehicleSpeed&${rangeQuery()}`);
  lineChart($("#traffic-chart"), data.series, []);
}

// ---- cameras -----------------------------------------------------------------------------

const yesNo = (v) => (v === true ? "yes" : v === false ? "no" : "–");

function renderCameras() {
  const data = state.cameras;
  if (!data) return;
  const filter = $("#cameras-filter").value.trim().toLowerCase();
  const shown = data.cameras.filter((c) => !filter || `${c.sensor_id} ${c.district} ${c.problems.join(" ")} ${c.tamper}`.toLowerCase().includes(filter));
  const head = `<tr><th>camera</th><th>district</th><th>people</th><th>occupancy</th><th>crowd km/h</th>
    ${data.classes.map((c) => `<th>${esc(c)}</th>`).join("")}<th>congested</th><th>online</th><th>fps</th>
    <th>tamper</th><th>low light</th><th>problems</th><th>last seen</th></tr>`;
  $("#cameras-table").innerHTML = head + paged("cameras", shown).map((c) => `
    <tr class="clickable" data-sensor-id="${esc(c.sensor_id)}">
      <td>${esc(c.sensor_id)}</td><td>${esc(c.district)}</td>
      <td class="num">${fmt(c.peopleCount)}</td><td class="num">${c.occupancy == null ? "–" : (c.occupancy * 100).toFixed(1) + " %"}</td>
      <td class="num">${fmt(c.averageCrowdSpeed)}</td>
      ${data.classes.map((k) => `<td class="num">${fmt(c.vehicles[k])}</td>`).join("")}
      <td>${yesNo(c.congested)}</td><td>${yesNo(c.online)}</td><td class="num">${fmt(c.frameRate)}</td>
      <td class="${c.tamper && c.tamper !== "none" ? "fault" : "muted"}">${esc(c.tamper || "–")}</td>
      <td>${yesNo(c.lowLight)}</td>
      <td class="${c.problems.length ? "fault" : "muted"}">${esc(c.problems.join(", ") || "none")}</td>
      <td>${ago(c.last_seen)}</td>
    </tr>`).join("");
}

async function loadCamera() {
  const sid = state.camera;
  if (!sid) return;
  const c = state.cameras && state.cameras.cameras.find((x) => x.sensor_id === sid);
  $("#camera-title").textContent = `Camera ${sid}`;
  $("#camera-health").innerHTML = c
    ? `<table class="grid" id="camera-health-table">
        <tr><th>online</th><td>${yesNo(c.online)}</td></tr>
        <tr><th>frame rate</th><td>${fmt(c.frameRate)} fps</td></tr>
        <tr><th>tamper</th><td class="${c.tamper && c.tamper !== "none" ? "fault" : "muted"}">${esc(c.tamper || "–")}</td></tr>
        <tr><th>low light</th><td>${yesNo(c.lowLight)}</td></tr></table>`
    : '<p class="muted">No recent reading.</p>';
  const fields = ["peopleCount", ...state.cameras.classes.map((k) => `intensity_${k}`)].join(",");
  const data = await api(`/api/series?type=camera&sensor_id=${encodeURIComponent(sid)}&fields=${fields}&${rangeQuery()}`);
  lineChart($("#camera-chart"), data.series, []);
}

// ---- alerts ------------------------------------------------------------------------------

function renderAlerts() {
  const sev = $("#alert-severity").value, st = $("#alert-state").value;
  const text = $("#alerts-filter").value.trim().toLowerCase();
  const rows = [...state.alerts.values()].sort((a, b) => b.time - a.time).filter((a) =>
    (!sev || a.severity === sev) && (!st || a.state === st) &&
    (!text || `${a.alert_id} ${a.sensor_id} ${a.district} ${a.type} ${a.explanation}`.toLowerCase().includes(text)));
  const readOnly = state.config.read_only;
  const head = "<tr><th>time</th><th>severity</th><th>state</th><th>sensor</th><th>district</th><th>type</th><th>value</th><th>explanation</th><th>acknowledged</th></tr>";
  $("#alerts-table").innerHTML = head + paged("alerts", rows).map((a) => `
    <tr data-alert-id="${esc(a.alert_id)}" class="alert-row">
      <td>${clock(a.time)}</td><td><span class="badge ${esc(a.severity)}">${esc(a.severity)}</span></td>
      <td><span class="badge ${a.state === "cleared" ? "cleared" : esc(a.severity)}">${esc(a.state)}</span></td>
      <td>${esc(a.sensor_id)}</td><td>${esc(a.district)}</td><td>${esc(a.type)}</td><td>${esc(fmt(a.value, 2))}</td>
      <td>${esc(a.explanation)}</td>
      <td>${a.ack ? `<span class="acked">✓ ${esc(a.ack.by)} ${ago(a.ack.time)}</span>`
        : `<button type="button" class="ack" data-alert-id="${esc(a.alert_id)}" ${readOnly ? 'disabled title="read-only dashboard"' : ""}>acknowledge</button>`}</td>
    </tr>`).join("");
  const raised = [...state.alerts.values()].filter((a) => a.state === "raised" && !a.ack).length;
  $("#alert-count").textContent = raised;
}

async function acknowledge(alertId) {
  const out = $("#ack-status");
  const token = $("#token").value.trim();
  sessionStorage.setItem("citygate-token", token);
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  try {
    const res = await api(`/api/alerts/${encodeURIComponent(alertId)}/ack`, {
      method: "POST", headers, body: JSON.stringify({ by: "operator" }),
    });
    const a = state.alerts.get(alertId);
    if (a) a.ack = res.ack;
    out.className = "ok";
    out.textContent = `acknowledged ${alertId}`;
    renderAlerts();
  } catch (err) {
    out.className = "error";
    out.textContent = `refused: ${err.message}`;
  }
}

// ---- gateways ----------------------------------------------------------------------------

function renderGateways() {
  const limit = state.config.gateway_offline_after_s;
  const head = `<tr><th>gateway</th><th>status</th><th>journal records</th><th>journal bytes</th>
    <th>oldest unsent</th><th>in /s</th><th>out /s</th><th>dead letters</th><th>Kafka errors</th><th>dropped</th><th>last heartbeat</th></tr>`;
  const rows = [...state.gateways.values()].sort((a, b) => a.gateway_id.localeCompare(b.gateway_id));
  $("#gateways-table").innerHTML = head + (rows.map((g) => {
    const online = Date.now() / 1000 - g.last_seen <= limit;
    const f = g.figures || {}, r = g.rates || {};
    return `<tr data-gateway-id="${esc(g.gateway_id)}">
      <td>${esc(g.gateway_id)}</td><td><span class="badge ${online ? "ok" : "off"}">${online ? "online" : "offline"}</span></td>
      <td class="num">${fmt(f.journal_depth_records)}</td><td class="num">${fmt(f.journal_depth_bytes)}</td>
      <td class="num">${fmt(f.journal_oldest_unsent_age_s)} s</td>
      <td class="num">${fmt(r.messages_in)}</td><td class="num">${fmt(r.records_out)}</td>
      <td class="num">${fmt(f.deadletters)}</td><td class="num">${fmt(f.kafka_errors)}</td>
      <td class="num">${fmt(f.journal_dropped)}</td><td>${ago(g.last_seen)}</td></tr>`;
  }).join("") || '<tr><td colspan="11" class="muted">No gateway has reported yet.</td></tr>');
}

// ---- history -----------------------------------------------------------------------------

async function loadHistory() {
  if (!$("#hist-sensors").options.length) {
    // Suggestions for the sensor box; the view does not wait for them.
    const fill = (known) => {
      $("#hist-sensors").innerHTML = known.sensors.map((s) => `<option value="${esc(s.sensor_id)}">`).join("");
    };
    if (state.sensors) fill(state.sensors);
    else api(`/api/sensors?${standardParam()}`).then(fill, () => {});
  }
  const type = $("#hist-type").value, sid = $("#hist-sensor").value.trim();
  const q = rangeQuery();
  const alerts = await api(`/api/alerts?${q}`);
  const head = "<tr><th>time</th><th>severity</th><th>state</th><th>sensor</th><th>type</th><th>explanation</th></tr>";
  $("#hist-alerts").innerHTML = head + alerts.alerts.filter((a) => !sid || a.sensor_id === sid).slice(0, 300).map((a) =>
    `<tr><td>${clock(a.time)}</td><td><span class="badge ${esc(a.severity)}">${esc(a.severity)}</span></td><td>${esc(a.state)}</td>
     <td>${esc(a.sensor_id)}</td><td>${esc(a.type)}</td><td>${esc(a.explanation)}</td></tr>`).join("");
  if (!sid) {
    $("#hist-chart").innerHTML = '<p class="muted">Choose a sensor.</p>';
    return;
  }
  const fields = $("#hist-fields").value.replace(/\s+/g, "");
  const data = await api(`/api/series?type=${type}&sensor_id=${encodeURIComponent(sid)}&fields=${encodeURIComponent(fields)}&${q}`);
  const first = fields.split(",")[0];
  lineChart($("#hist-chart"), data.series, type === "air_quality" && !fields.includes(",") ? pollutantBands(first) : []);
}

// ---- loading and routing -------------------------------------------------------------------

const standardParam = () => `standard=${encodeURIComponent($("#standard").value)}`;

async function refresh(view = state.view) {
  const started = performance.now();
  try {
    if (view === "map") {
      state.sensors = await api(`/api/sensors?${standardParam()}`);
      state.standard = state.sensors.standard;
      renderMap();
    } else if (view === "air") {
      state.air = await api(`/api/air?${standardParam()}`);
      state.standard = state.air.standard;
      renderAir();
      if (state.airSelected) await loadAirChart();
    } else if (view === "traffic") {
      state.traffic = await api("/api/traffic");
      renderTraffic();
      if (state.junction) await loadJunction();
    } else if (view === "cameras") {
      state.cameras = await api("/api/cameras");
      renderCameras();
      if (state.camera) await loadCamera();
    } else if (view === "alerts") {
      const data = await api(`/api/alerts?${rangeQuery()}`);
      for (const a of data.alerts) {
        const known = state.alerts.get(a.alert_id);
        if (!known || a.time >= known.time || (a.ack && !known.ack)) state.alerts.set(a.alert_id, a);
      }
      renderAlerts();
    } else if (view === "gateways") {
      const data = await api("/api/gateways");
      for (const g of data.gateways) state.gateways.set(g.gateway_id, g);
      renderGateways();
    } else if (view === "history") {
      await loadHistory();
    }
    const ms = performance.now() - started;
    document.body.dataset.rendered = view;
    document.body.dataset.renderMs = ms.toFixed(0);
    status(`${view} updated ${new Date().toLocaleTimeString(undefined, { hour12: false })} in ${ms.toFixed(0)} ms`);
  } catch (err) {
    status(`${view}: ${err.message}`);
  }
}

function route() {
  const view = (location.hash || "#map").slice(1);
  state.view = VIEWS.includes(view) ? view : "map";
  for (const v of VIEWS) $(`#view-${v}`).hidden = v !== state.view;
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.view === state.view));
  delete document.body.dataset.rendered;
  refresh();
}

// Live events can come by the hundred a second (a district-wide fault, a feed catching up):
// the open view is redrawn at most every LIVE_REDRAW_MS, with everything that arrived since.
const LIVE_REDRAW_MS = 100;
let redrawPending = false;
function redrawSoon() {
  if (redrawPending) return;
  redrawPending = true;
  setTimeout(() => {
    redrawPending = false;
    if (state.view === "alerts") renderAlerts();
    else if (state.view === "gateways") renderGateways();
    $("#alert-count").textContent = [...state.alerts.values()].filter((x) => x.state === "raised" && !x.ack).length;
  }, LIVE_REDRAW_MS);
}

function connectLive() {
  const source = new EventSource("/api/events");
  const live = $("#live");
  source.onopen = () => { live.className = "live on"; };
  source.onerror = () => { live.className = "live off"; };
  source.addEventListener("alert", (e) => {
    const a = JSON.parse(e.data);
    const known = state.alerts.get(a.alert_id);
    a.ack = known ? known.ack : null;
    state.alerts.set(a.alert_id, a);
    redrawSoon();
  });
  source.addEventListener("ack", (e) => {
    const ack = JSON.parse(e.data);
    const a = state.alerts.get(ack.alert_id);
    if (a) { a.ack = ack; redrawSoon(); }
  });
  // The server has read the past hour of the feed: what this page loaded may predate it.
  source.addEventListener("caught_up", () => refresh());
  source.addEventListener("gateway", (e) => {
    const g = JSON.parse(e.data);
    state.gateways.set(g.gateway_id, g);
    redrawSoon();
  });
}

async function main() {
  state.config = await api("/api/config");
  $("#standard").innerHTML = Object.entries(state.config.standards)
    .map(([id, name]) => `<option value="${esc(id)}" ${id === state.config.aqi_standard ? "selected" : ""}>${esc(name)}</option>`).join("");
  state.standard = state.config.tables[state.config.aqi_standard];
  $("#token").value = sessionStorage.getItem("citygate-token") || "";
  if (state.config.read_only) $("#token-box").hidden = true;

  $("#standard").addEventListener("change", () => {
    state.standard = state.config.tables[$("#standard").value];
    refresh();
  });
  $("#range").addEventListener("change", () => {
    $("#custom-range").hidden = $("#range").value !== "custom";
    refresh();
  });
  $("#range-from").addEventListener("change", () => refresh());
  $("#range-to").addEventListener("change", () => refresh());
  $("#map").addEventListener("click", (e) => {
    const id = e.target.closest("[data-sensor-id]")?.dataset.sensorId;
    if (!id) return;
    state.selected = id;
    document.querySelectorAll(".map .sensor.selected").forEach((n) => n.classList.remove("selected"));
    e.target.classList.add("selected");
    showSelected();
  });
  $("#air-table").addEventListener("click", (e) => {
    const id = e.target.closest("[data-sensor-id]")?.dataset.sensorId;
    if (id) { state.airSelected = id; loadAirChart().catch((err) => status(err.message)); }
  });
  $("#air-pollutant").addEventListener("change", () => loadAirChart().catch((err) => status(err.message)));
  pager("air", renderAir);
  $("#traffic-table").addEventListener("click", (e) => {
    const id = e.target.closest("[data-sensor-id]")?.dataset.sensorId;
    if (id) { state.junction = id; loadJunction().catch((err) => status(err.message)); }
  });
  pager("traffic", renderTraffic);
  $("#cameras-table").addEventListener("click", (e) => {
    const id = e.target.closest("[data-sensor-id]")?.dataset.sensorId;
    if (id) { state.camera = id; loadCamera().catch((err) => status(err.message)); }
  });
  pager("cameras", renderCameras);
  pager("alerts", renderAlerts);
  for (const id of ["#alert-severity", "#alert-state"]) {
    $(id).addEventListener("change", () => { state.pages.alerts = 0; renderAlerts(); });
  }
  $("#alerts-table").addEventListener("click", (e) => {
    const button = e.target.closest("button.ack");
    if (button) acknowledge(button.dataset.alertId);
  });
  // The History tab's types and first fields come from the families' views (/api/config).
  const historyFields = state.config.history;
  $("#hist-type").innerHTML = Object.keys(historyFields).map((t) => `<option>${esc(t)}</option>`).join("");
  $("#hist-fields").value = historyFields[$("#hist-type").value] || "";
  $("#hist-type").addEventListener("change", () => {
    $("#hist-fields").value = historyFields[$("#hist-type").value];
  });
  $("#hist-go").addEventListener("click", () => loadHistory().catch((err) => status(err.message)));
  window.addEventListener("hashchange", route);
  connectLive();
  route();
  setInterval(() => { if (state.view !== "history") refresh(); }, REFRESH_MS);
}

main().catch((err) => status(`dashboard failed to start: ${err.message}`));
