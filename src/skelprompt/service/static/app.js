// skelprompt serve's page: camera tiles (latest frame with skeletons, zones drawn on it, live
// score line, status, prompt editor) and the alert list (thumbnails, clips, acknowledge, true /
// false alarm with undo). Plain JS, no build step.
"use strict";
const series = {};           // camera -> [{anomaly, threshold}] of its latest windows
const KEEP = 120;            // windows drawn per camera
const tokenInput = document.getElementById("token");
tokenInput.value = localStorage.getItem("skelprompt-token") || "";
tokenInput.addEventListener("change", () => localStorage.setItem("skelprompt-token", tokenInput.value));
const operatorInput = document.getElementById("operator");
operatorInput.value = localStorage.getItem("skelprompt-operator") || "";
operatorInput.addEventListener("change", () => localStorage.setItem("skelprompt-operator", operatorInput.value));
const zones = {};            // camera -> [{kind, points: [[x, y], ...]}] (fractions of the frame)
const drafts = {};           // camera -> points of the zone being drawn

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

async function send(url, body, method = "POST") {
  const r = await fetch(url, {
    method,
    headers: {"Content-Type": "application/json", "Authorization": "Bearer " + tokenInput.value},
    body: JSON.stringify(body || {}),
  });
  if (!r.ok) throw new Error((await r.json()).detail || r.statusText);
  return r.json();
}

function tile(cam) {
  let t = document.getElementById("cam-" + cam.name);
  if (t) return t;
  const lines = (a) => a.join("\n");
  t = el("div", {class: "tile", id: "cam-" + cam.name, "data-camera": cam.name},
    el("h2", {}, cam.name),
    el("div", {class: "view"},
      el("img", {class: "frame", alt: "latest frame of " + cam.name}),
      el("canvas", {class: "zones", width: 640, height: 360})),
    el("div", {class: "zone-tools"},
      el("select", {class: "zone-kind"}, el("option", {value: "ignore"}, "ignore alerts here"),
        el("option", {value: "count"}, "alerts count only here")),
      el("button", {class: "zone-draw"}, "draw zone"), el("button", {class: "zone-close", disabled: ""}, "close zone"),
      el("button", {class: "zone-clear"}, "clear zones"), el("span", {class: "zone-msg note"})),
    el("div", {class: "status"}),
    el("canvas", {class: "score", width: 600, height: 90}),
    el("div", {class: "last status"}),
    el("details", {class: "editor"},
      el("summary", {}, "what to look for"),
      el("label", {}, "anomaly prompts, one a line"), el("textarea", {class: "prompts", rows: 2}),
      el("label", {}, "normal prompts, one a line"), el("textarea", {class: "normal", rows: 2}),
      el("label", {}, "threshold: alarms per hour on normal footage ",
        el("input", {class: "rate", type: "number", min: "0.001", step: "any", size: 6})),
      el("button", {class: "save"}, "apply"), el("span", {class: "saved status"})));
  t.querySelector(".prompts").value = lines(cam.prompts);
  t.querySelector(".normal").value = lines(cam.normal_prompts);
  t.querySelector(".rate").value = cam.alarms_per_hour.toPrecision(3);
  t.querySelector(".save").addEventListener("click", async () => {
    const split = (s) => s.split("\n").map((x) => x.trim()).filter(Boolean);
    const out = t.querySelector(".saved");
    try {
      await send(`/api/cameras/${cam.name}/prompts`, {
        prompts: split(t.querySelector(".prompts").value),
        normal_prompts: split(t.querySelector(".normal").value),
        alarms_per_hour: Number(t.querySelector(".rate").value),
      });
      out.textContent = " applied";
    } catch (e) { out.textContent = " " + e.message; }
  });
  setupZones(t, cam.name);
  document.getElementById("cameras").append(t);
  return t;
}

function drawZones(name) {
  const t = document.getElementById("cam-" + name);
  if (!t) return;
  const c = t.querySelector("canvas.zones"), g = c.getContext("2d"), W = c.width, H = c.height;
  g.clearRect(0, 0, W, H);
  const poly = (pts, closed) => { g.beginPath(); pts.forEach(([x, y], i) => (i ? g.lineTo(x * W, y * H) : g.moveTo(x * W, y * H))); if (closed) g.closePath(); };
  for (const z of zones[name] || []) {
    g.fillStyle = z.kind === "ignore" ? "#0006" : "#2e7d3244"; g.strokeStyle = z.kind === "ignore" ? "#000" : "#2e7d32";
    g.lineWidth = 2; poly(z.points, true); g.fill(); g.stroke();
  }
  const d = drafts[name];
  if (d && d.length) {
    g.strokeStyle = "#ff9800"; g.lineWidth = 2; poly(d, false); g.stroke();
    for (const [x, y] of d) { g.fillStyle = "#ff9800"; g.fillRect(x * W - 3, y * H - 3, 6, 6); }
  }
}

async function saveZones(t, name) {
  const msg = t.querySelector(".zone-msg");
  try {
    const r = await send(`/api/cameras/${name}/zones`, {zones: zones[name]}, "PUT");
    zones[name] = r.zones; msg.textContent = ` ${r.zones.length} zone(s) saved`;
  } catch (e) { msg.textContent = " " + e.message; }
  drawZones(name);
}

function setupZones(t, name) {
  const c = t.querySelector("canvas.zones");
  fetch(`/api/cameras/${name}/zones`).then((r) => r.json()).then((r) => { zones[name] = r.zones; drawZones(name); });
  t.querySelector(".zone-draw").addEventListener("click", () => {
    drafts[name] = []; c.classList.add("drawing"); t.querySelector(".zone-close").disabled = false;
    t.querySelector(".zone-msg").textContent = " click the corners, then close zone";
  });
  c.addEventListener("click", (ev) => {
    if (!drafts[name]) return;
    const b = c.getBoundingClientRect();
    drafts[name].push([Math.min(1, Math.max(0, (ev.clientX - b.left) / b.width)), Math.min(1, Math.max(0, (ev.clientY - b.top) / b.height))]);
    drawZones(name);
  });
  t.querySelector(".zone-close").addEventListener("click", async () => {
    const d = drafts[name]; drafts[name] = null; c.classList.remove("drawing");
    t.querySelector(".zone-close").disabled = true;
    if (!d || d.length < 3) { t.querySelector(".zone-msg").textContent = " a zone needs 3 corners or more"; drawZones(name); return; }
    zones[name] = [...(zones[name] || []), {kind: t.querySelector(".zone-kind").value, points: d}];
    await saveZones(t, name);
  });
  t.querySelector(".zone-clear").addEventListener("click", async () => { zones[name] = []; await saveZones(t, name); });
}

function refreshFrames() {
  for (const img of document.querySelectorAll(".tile img.frame")) {
    const name = img.closest(".tile").dataset.camera;
    const next = new Image();
    next.onload = () => {
      img.src = next.src; img.classList.add("loaded");
      img.parentElement.style.aspectRatio = `${next.naturalWidth} / ${next.naturalHeight}`;
    };
    next.src = `/api/cameras/${encodeURIComponent(name)}/frame.jpg?t=${Date.now()}`;
  }
}

function draw(name) {
  const t = document.getElementById("cam-" + name), pts = series[name] || [];
  if (!t || !pts.length) return;
  const c = t.querySelector("canvas"), g = c.getContext("2d"), W = c.width, H = c.height;
  const vals = pts.flatMap((p) => [p.anomaly, p.threshold]).filter((v) => v !== null && isFinite(v));
  const lo = Math.min(...vals), hi = Math.max(...vals), y = (v) => H - 6 - (v - lo) / ((hi - lo) || 1) * (H - 12);
  const x = (i) => i * W / (KEEP - 1);
  g.clearRect(0, 0, W, H);
  g.strokeStyle = "#b00"; g.setLineDash([6, 4]); g.beginPath();
  pts.forEach((p, i) => { if (p.threshold !== null) (i ? g.lineTo(x(i), y(p.threshold)) : g.moveTo(x(i), y(p.threshold))); });
  g.stroke(); g.setLineDash([]); g.strokeStyle = "#1565c0"; g.lineWidth = 2; g.beginPath();
  pts.forEach((p, i) => { if (p.anomaly !== null) (i ? g.lineTo(x(i), y(p.anomaly)) : g.moveTo(x(i), y(p.anomaly))); });
  g.stroke();
  pts.forEach((p, i) => { if (p.is_anomaly) { g.fillStyle = "#b00"; g.fillRect(x(i) - 1, 0, 3, 5); } });
}

async function refreshCameras() {
  const cams = await (await fetch("/api/cameras")).json();
  for (const cam of cams) {
    const t = tile(cam), s = t.querySelector(".status");
    s.textContent = `${cam.status} · ${cam.fps_in.toFixed(1)} fps in · ${cam.fps_processed.toFixed(1)} processed ` +
      `(pose at ${cam.pose_fps}) · ${cam.dropped_frames} dropped` + (cam.error ? " · " + cam.error : "");
    s.className = "status" + (cam.falling_behind ? " behind" : "") + (cam.status === "error" ? " error" : "");
    const w = cam.last_window;
    t.querySelector(".last").textContent = w ?
      `last window ${w.start_s.toFixed(1)}-${w.end_s.toFixed(1)} s: anomaly ${w.anomaly === null ? "-" : w.anomaly.toFixed(3)}` +
      ` (threshold ${w.threshold === null ? "-" : w.threshold.toFixed(3)})${w.is_anomaly ? " ALERT" : ""}` : "no window scored yet";
  }
}

function play(a) {
  const v = document.getElementById("player");
  v.hidden = false; v.src = a.clip_url; v.play().catch(() => {});
  document.getElementById("player-caption").textContent = `alert ${a.id}, ${a.camera}, ${a.start}`;
}

async function refreshAlerts() {
  const alerts = await (await fetch("/api/alerts?limit=50")).json();
  const ul = document.getElementById("alerts");
  ul.replaceChildren(...alerts.map((a) => {
    const img = el("img", {alt: "snapshot of alert " + a.id});
    if (a.snapshot_url) img.src = a.snapshot_url;
    if (a.clip_url) img.addEventListener("click", () => play(a));
    const who = a.persons.map((p) => "#" + p.track_id).join(" ");
    const ack = el("button", {class: "ack"}, a.acknowledged ? "acknowledged" : "acknowledge");
    ack.disabled = a.acknowledged;
    ack.addEventListener("click", async () => { await send(`/api/alerts/${a.id}/ack`); refreshAlerts(); });
    const fb = el("span", {class: "feedback"});
    const msg = el("span", {class: "feedback-msg note"});
    const act = async (fn) => { try { await fn(); refreshAlerts(); } catch (e) { msg.textContent = " " + e.message; } };
    const by = () => operatorInput.value.trim() || "operator";
    if (a.feedback) {
      fb.append(el("span", {class: "verdict " + a.feedback.verdict}, `${a.feedback.verdict.replace("_", " ")} (${a.feedback.by})`), " ",
        el("button", {class: "undo", onclick: () => act(() => send(`/api/feedback/${a.feedback.id}/undo`, {by: by()}))}, "undo"));
    } else if (a.state !== "open") {
      for (const [v, label] of [["true_alarm", "true alarm"], ["false_alarm", "false alarm"]])
        fb.append(el("button", {class: v.replace("_", "-"), onclick: () => act(() => send(`/api/alerts/${a.id}/feedback`, {verdict: v, by: by()}))}, label), " ");
    }
    return el("li", {class: "alert" + (a.acknowledged ? " acked" : ""), "data-id": a.id, "data-state": a.state}, img,
      el("div", {},
        el("b", {}, a.camera), ` ${new Date(a.start).toLocaleTimeString()} (${a.start_s.toFixed(1)}-${a.end_s.toFixed(1)} s) `,
        el("span", {class: "peak"}, a.peak.toFixed(3)), el("br"),
        `${a.prompt || "unlike normal"} · persons ${who || "-"} · ${a.state}`, el("br"),
        a.clip_url ? el("button", {class: "play", onclick: () => play(a)}, "play clip") : "", " ", ack, el("br"), fb, msg));
  }));
}

function listen() {
  const es = new EventSource("/api/events");
  es.onopen = () => { document.getElementById("conn").textContent = "live"; };
  es.onerror = () => { document.getElementById("conn").textContent = "reconnecting…"; };
  es.addEventListener("window", (m) => {
    const e = JSON.parse(m.data), s = (series[e.camera] = series[e.camera] || []);
    s.push(e); if (s.length > KEEP) s.shift();
    draw(e.camera);
  });
  for (const kind of ["alert", "ack", "feedback"]) es.addEventListener(kind, () => refreshAlerts());
}

refreshCameras().then(refreshAlerts).then(listen).then(refreshFrames);
setInterval(refreshCameras, 2000);
setInterval(refreshFrames, 1000);
