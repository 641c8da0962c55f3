// skelprompt serve's page: camera tiles (live score line, status, prompt editor) and the
// alert list (thumbnails, clips, acknowledge). Plain JS, no build step.
"use strict";
const series = {};           // camera -> [{anomaly, threshold}] of its latest windows
const KEEP = 120;            // windows drawn per camera
const tokenInput = document.getElementById("token");
tokenInput.value = localStorage.getItem("skelprompt-token") || "";
tokenInput.addEventListener("change", () => localStorage.setItem("skelprompt-token", tokenInput.value));

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

async function send(url, body) {
  const r = await fetch(url, {
    method: "POST",
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
  document.getElementById("cameras").append(t);
  return t;
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
    return el("li", {class: "alert" + (a.acknowledged ? " acked" : ""), "data-id": a.id, "data-state": a.state}, img,
      el("div", {},
        el("b", {}, a.camera), ` ${new Date(a.start).toLocaleTimeString()} (${a.start_s.toFixed(1)}-${a.end_s.toFixed(1)} s) `,
        el("span", {class: "peak"}, a.peak.toFixed(3)), el("br"),
        `${a.prompt || "unlike normal"} · persons ${who || "-"} · ${a.state}`, el("br"),
        a.clip_url ? el("button", {class: "play", onclick: () => play(a)}, "play clip") : "", " ", ack));
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
  for (const kind of ["alert", "ack"]) es.addEventListener(kind, () => refreshAlerts());
}

refreshCameras().then(refreshAlerts).then(listen);
setInterval(refreshCameras, 2000);
