// StreamAnalyzer's page: one tile per stream (MJPEG <img>), its numbers and detections polled from /api/state, and the
// controls posted to /api/controls. Plain browser JavaScript: no build step, no dependencies.
"use strict";

const $ = (id) => document.getElementById(id);
const tiles = new Map();
let state = null;
let controlsReady = false;

async function api(path, options) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  if (response.status === 401) { showLogin(); throw new Error("unauthorised"); }
  return response;
}

function showLogin() {
  $("login").hidden = false;
  $("controls").hidden = true;
  $("token").focus();
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const response = await fetch("/api/login", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token: $("token").value }), credentials: "same-origin",
  });
  if (response.ok) { $("login").hidden = true; $("login-error").textContent = ""; poll(); }
  else $("login-error").textContent = "That token was refused.";
});

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) node.append(child);
  return node;
}

function tileFor(stream) {
  let tile = tiles.get(stream.index);
  if (tile) return tile;
  const video = el("img", { className: "video", alt: `live view of ${stream.name}`, src: `/stream/${stream.index}.mjpg` });
  tile = {
    root: el("article", { className: "tile" }),
    title: el("span", { textContent: stream.name, title: stream.source }),
    state: el("span", { className: "state" }),
    stats: el("div", { className: "stats" }),
    error: el("div", { className: "error-line" }),
    rows: el("tbody"),
    maps: el("div", { className: "maps" }),
    video,
  };
  tile.root.dataset.stream = stream.name;
  tile.root.append(el("h2", {}, tile.title, tile.state), video, tile.stats, tile.error, tile.maps,
    el("table", { className: "detections" }, tile.rows));
  // A broken MJPEG connection (the run restarted, the network dropped) is reopened.
  video.addEventListener("error", () => setTimeout(() => { video.src = `/stream/${stream.index}.mjpg?t=${Date.now()}`; }, 1000));
  $("tiles").append(tile.root);
  tiles.set(stream.index, tile);
  $("c-scope").append(el("option", { value: stream.name, textContent: stream.name }));
  return tile;
}

function render(stream) {
  const tile = tileFor(stream);
  tile.state.textContent = stream.state;
  tile.state.className = `state ${stream.state}`;
  tile.stats.textContent = `${stream.fps.toFixed(1)} fps · latency ${Math.round(stream.latency_ms)} ms · ` +
    `dropped ${stream.dropped} · reconnects ${stream.reconnects} · frames ${stream.processed}` +
    (stream.inference_ms != null ? ` · inference ${stream.inference_ms.toFixed(1)} ms` : "") +
    (stream.explained ? ` · explain ${stream.explain_ms.toFixed(1)} ms` : "");
  tile.error.textContent = stream.error && stream.state !== "running" ? stream.error : "";
  tile.rows.replaceChildren(...stream.detections.map((d) => el("tr", {},
    el("td", { textContent: d.class_name }), el("td", { textContent: d.confidence.toFixed(2) }),
    el("td", { textContent: d.map ? `${d.map.method} @ ${d.map.layer}: ${(100 * d.map.mass_in_box).toFixed(0)}% in box` : "" }))));
  // The last explained frame's detections: each opens its own map.
  const maps = stream.maps;
  tile.maps.replaceChildren(...(maps ? [el("span", { textContent: `maps of frame ${maps.frame} (${maps.method}):` }),
    ...maps.detections.map((d, i) => {
      const button = el("button", { type: "button", className: "map-button", textContent: `${d.class_name} ${d.confidence.toFixed(2)}` });
      button.title = `show this detection's own map (${d.layer})`;
      button.addEventListener("click", () => showMap(stream, maps, i));
      return button;
    })] : []));
}

function showMap(stream, maps, index, retry = true) {
  const d = maps.detections[index];
  $("map-title").textContent = `${stream.name}: ${d.class_name} ${d.confidence.toFixed(2)} (${maps.method} @ ${d.layer}, frame ${maps.frame})`;
  const image = $("map-image");
  // A frame explained a while ago may be gone from the server: the newest explained frame's map is shown instead.
  image.onerror = () => {
    const latest = state && state.streams.find((s) => s.index === stream.index);
    if (retry && latest && latest.maps && latest.maps.detections.length > 0)
      showMap(latest, latest.maps, Math.min(index, latest.maps.detections.length - 1), false);
  };
  image.src = `/api/streams/${stream.index}/detections/${index}/map.jpg?frame=${maps.frame}`;
  if (!$("map-dialog").open) $("map-dialog").showModal();
}

function fillControls(c) {
  $("c-method").value = c.method;
  $("c-layers").value = c.layers;
  $("c-target").value = c.target;
  $("c-topk").value = c.top_k;
  $("c-every").value = c.cam_every;
  $("c-conf").value = c.conf;
  $("c-classes").value = c.classes.join(",");
  $("c-heatmap").checked = c.heatmap;
  $("c-alpha").value = c.alpha;
}

function setupControls(s) {
  if (controlsReady) return;
  for (const m of s.methods) $("c-method").append(el("option", { value: m, textContent: m }));
  for (const t of s.targets) $("c-target").append(el("option", { value: t, textContent: t }));
  fillControls(s.defaults);
  const change = {
    "c-method": () => ({ method: $("c-method").value }),
    "c-layers": () => ({ layers: $("c-layers").value || "auto" }),
    "c-target": () => ({ target: $("c-target").value }),
    "c-topk": () => ({ top_k: Number($("c-topk").value) }),
    "c-every": () => ({ cam_every: Number($("c-every").value) }),
    "c-conf": () => ({ conf: Number($("c-conf").value) }),
    "c-classes": () => ({ classes: $("c-classes").value.split(/[ ,]+/).filter((v) => v !== "").map(Number) }),
    "c-heatmap": () => ({ heatmap: $("c-heatmap").checked }),
    "c-alpha": () => ({ alpha: Number($("c-alpha").value) }),
  };
  for (const [id, patch] of Object.entries(change)) $(id).addEventListener("change", () => send(patch()));
  $("c-scope").addEventListener("change", () => {
    const scope = $("c-scope").value;
    const stream = state.streams.find((s) => s.name === scope);
    fillControls(stream ? stream.controls : state.defaults);
  });
  controlsReady = true;
}

async function send(patch) {
  const scope = $("c-scope").value;
  const path = scope ? `/api/streams/${encodeURIComponent(scope)}/controls` : "/api/controls";
  const response = await api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(patch) });
  const body = await response.json();
  $("c-status").className = response.ok ? "" : "error";
  $("c-status").textContent = response.ok ? `applied to ${scope || "all streams"}` : body.error;
  if (response.ok) fillControls(body);
}

async function poll() {
  try {
    const response = await api("/api/state");
    state = await response.json();
    $("model").textContent = state.model;
    $("controls").hidden = false;
    setupControls(state);
    for (const stream of state.streams) render(stream);
  } catch (e) {
    if (e.message === "unauthorised") return; // waits for the login
  }
  setTimeout(poll, 500);
}

poll();
