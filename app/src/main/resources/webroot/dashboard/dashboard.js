// The live cluster page (docs/dashboard.md). Plain JavaScript, no build step, nothing from other origins.
//
// It reads GET /v1/dashboard/stream with fetch() rather than EventSource because EventSource cannot send an
// Authorization header, and the stream needs a reader's key once authentication is on. The key is asked for
// when the stream answers 401 (or 403) and kept in sessionStorage: this tab only, gone when it closes.
"use strict";

(function () {
  const STREAM = "/v1/dashboard/stream";
  const TOKEN_KEY = "snakepit.dashboard.token";
  const EVENTS_SHOWN = 100;
  const $ = (id) => document.getElementById(id);

  let figures = null;
  let events = [];
  let retryMs = 1000;
  let reader = null;

  // ---- the stream ------------------------------------------------------------------------------------

  function token() {
    try { return sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
  }

  async function connect() {
    setConnection("connecting", "pill-wait");
    const headers = { "Accept": "text/event-stream" };
    const t = token();
    if (t) headers["Authorization"] = "Bearer " + t;
    let response;
    try {
      response = await fetch(STREAM, { headers: headers, cache: "no-store" });
    } catch (e) {
      return retryLater("cannot reach the node");
    }
    if (response.status === 401 || response.status === 403) {
      const reason = await errorMessage(response);
      return askForKey(response.status === 401
        ? (t ? "That key was refused: " : "This node needs a key: ") + reason
        : "That key may not read the dashboard (it needs the reader role or above): " + reason);
    }
    if (!response.ok || !response.body) {
      return retryLater("the node answered " + response.status + ": " + await errorMessage(response));
    }
    $("login").hidden = true;
    retryMs = 1000;
    setConnection("live", "pill-live");
    try {
      await read(response.body);
      retryLater("the stream ended");
    } catch (e) {
      retryLater("the stream broke");
    }
  }

  async function errorMessage(response) {
    try {
      const body = await response.json();
      return (body.error && body.error.message) || response.statusText;
    } catch (e) {
      return response.statusText || String(response.status);
    }
  }

  // Server-sent events by hand: records end with a blank line; "event:" names one, "data:" lines carry its
  // JSON, lines starting with ":" are heartbeats.
  async function read(body) {
    reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const record = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
        dispatch(record);
      }
    }
  }

  function dispatch(record) {
    let name = "message";
    const data = [];
    for (const line of record.split(/\r?\n/)) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") name = value;
      else if (field === "data") data.push(value);
    }
    if (data.length === 0) return;
    let payload;
    try { payload = JSON.parse(data.join("\n")); } catch (e) { return; }
    if (name === "snapshot") {
      figures = payload.figures;
      events = (payload.events || []).slice().reverse();
      render();
    } else if (name === "figures") {
      figures = payload;
      render();
    } else if (name === "event") {
      events.unshift(payload);
      events.length = Math.min(events.length, EVENTS_SHOWN);
      renderEvents();
    }
  }

  function retryLater(why) {
    setConnection("reconnecting (" + why + ")", "pill-bad");
    const wait = retryMs;
    retryMs = Math.min(retryMs * 2, 10000);
    setTimeout(connect, wait);
  }

  function askForKey(reason) {
    setConnection("key needed", "pill-bad");
    $("login-reason").textContent = reason;
    $("login").hidden = false;
    $("token").focus();
  }

  function setConnection(text, cls) {
    const el = $("connection");
    el.textContent = text;
    el.className = "pill " + cls;
    el.dataset.connection = text.split(" ")[0];
  }

  // ---- rendering (textContent only: nothing from the stream is ever parsed as HTML) -------------------

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function fmt(n, digits) {
    if (n === null || n === undefined) return "–";
    return Number(n).toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: 0 });
  }

  function ms(v) {
    if (v === null || v === undefined) return "–";
    return v >= 1000 ? fmt(v / 1000, 2) + " s" : fmt(v, v < 10 ? 2 : 1) + " ms";
  }

  function clock(at) {
    return at ? new Date(at).toLocaleTimeString([], { hour12: false }) : "";
  }

  function render() {
    if (!figures) return;
    const nodes = figures.nodes || [];
    const live = nodes.filter((n) => n.state !== "left");
    const serving = nodes.filter((n) => n.state === "serving").length;
    let ready = 0, size = 0;
    for (const n of live) { ready += n.workers_ready || 0; size += n.workers_size || 0; }
    const calls = (figures.pools || []).reduce((s, p) => s + (p.calls_per_s || 0), 0);
    $("sum-nodes").textContent = serving + " / " + live.length;
    $("sum-workers").textContent = ready + " / " + size;
    $("sum-sessions").textContent = fmt(figures.sessions && figures.sessions.active, 0);
    $("sum-calls").textContent = fmt(calls, calls < 10 ? 1 : 0);
    $("served-by").textContent = "via " + figures.node;
    $("updated").textContent = "updated " + clock(figures.at);
    $("updated").dataset.at = figures.at;
    renderNodes(nodes);
    renderPools(figures.pools || []);
    renderEvents();
  }

  function renderNodes(nodes) {
    const box = $("nodes");
    box.replaceChildren();
    if (nodes.length === 0) box.append(el("p", "empty", "No node in view yet."));
    for (const n of nodes) {
      const card = el("article", "node" + (n.state === "left" ? " gone" : ""));
      card.dataset.nodeId = n.id;
      card.dataset.state = n.state;
      const head = el("div", "node-head");
      head.append(el("span", "node-id", n.id), el("span", "badge st-" + n.state, n.state));
      card.append(head);
      const meta = [];
      if (n.http) meta.push(n.http);
      if (n.state === "left" && n.left_at) meta.push("last seen " + clock(n.left_at));
      else if (n.state === "unreachable") meta.push("silent for " + ms(n.last_heard_ms));
      card.append(el("div", "node-meta", meta.join(" · ")));
      if (n.state !== "left") {
        const share = el("div", "share");
        const bar = el("div", "bar");
        const fill = el("span");
        fill.style.width = Math.round((n.session_share || 0) * 100) + "%";
        bar.append(fill);
        share.append(el("span", null, "sessions"), bar, el("span", null,
          n.session_share === null || n.session_share === undefined
            ? fmt(n.sessions_owned, 0)
            : fmt(n.sessions_owned, 0) + " · " + Math.round(n.session_share * 100) + "%"));
        card.append(share);
        const workers = el("div", "workers");
        workers.setAttribute("aria-label", "workers");
        for (const w of n.workers || []) {
          const chip = el("span", "worker st-" + w.state, w.id.replace(/@.*$/, ""));
          chip.title = w.id + ": " + w.state + (w.pid ? ", pid " + w.pid : "") + ", " + (w.requests || 0)
            + " calls" + (w.inflight ? ", " + w.inflight + " running" : "");
          chip.dataset.state = w.state;
          workers.append(chip);
        }
        if (!n.answered) workers.append(el("span", "muted small", (n.workers_ready ?? "?") + "/"
          + (n.workers_size ?? "?") + " ready (no details)"));
        card.append(workers);
      }
      box.append(card);
    }
  }

  function cell(label, text, cls) {
    const td = el("td", cls, text);
    td.dataset.label = label;
    return td;
  }

  function renderPools(pools) {
    const body = $("pools");
    body.replaceChildren();
    if (pools.length === 0) {
      const tr = el("tr");
      const td = el("td", "empty", "No pool reported yet.");
      td.colSpan = 6;
      tr.append(td);
      body.append(tr);
    }
    for (const p of pools) {
      const tr = el("tr");
      tr.dataset.pool = p.name;
      const state = el("td");
      state.dataset.label = "State";
      state.append(el("span", "badge st-" + (p.degraded ? "degraded" : "ok"),
        p.degraded ? "degraded on " + p.degraded_on.join(", ") : "ok"));
      tr.append(cell("Pool", p.name), cell("Ready", p.ready + " / " + p.size, "num"),
        cell("Calls/s", fmt(p.calls_per_s, p.calls_per_s < 10 ? 1 : 0), "num"), cell("p99", ms(p.p99_ms), "num"),
        cell("Queue", fmt(p.queue_depth, 0), "num"), state);
      body.append(tr);
    }
  }

  const EVENT_TEXT = {
    "node.joined": (e) => e.reason === "returned" ? "node returned" : "node joined",
    "node.left": (e) => e.reason === "lost" ? "node lost" : "node left",
    "node.draining": () => "node draining",
    "worker.crashed": () => "worker crashed",
    "worker.recycled": () => "worker recycled",
    "pool.degraded": () => "pool degraded",
    "pool.recovered": () => "pool recovered",
    "pool.reload.started": () => "reload started",
    "pool.reload.finished": () => "reload finished",
    "pool.reload.failed": () => "reload failed",
  };
  const EVENT_CLASS = {
    "node.joined": "st-ok", "node.left": "st-left", "node.draining": "st-draining", "worker.crashed": "st-crashed",
    "worker.recycled": "st-recycled", "pool.degraded": "st-degraded", "pool.recovered": "st-ok",
    "pool.reload.failed": "st-degraded",
  };

  function detail(e) {
    const parts = [];
    if (e.type.startsWith("node.")) {
      if (e.reason) parts.push(e.reason);
      if (e.reported_by) parts.push("reported by " + e.reported_by);
    } else {
      parts.push(e.node);
      if (e.pool) parts.push("pool " + e.pool);
      if (e.id) parts.push(e.id);
    }
    if (e.type === "worker.crashed") {
      if (e.exit_code !== undefined && e.exit_code !== null) parts.push("exit " + e.exit_code);
      if (e.restart_in_ms !== undefined) parts.push("restart in " + ms(e.restart_in_ms));
    }
    if (e.failures) parts.push(e.failures + " failures");
    if (e.reason && !e.type.startsWith("node.")) parts.push(e.reason);
    return parts.filter(Boolean).join(" · ");
  }

  function renderEvents() {
    const list = $("events");
    list.replaceChildren();
    if (events.length === 0) list.append(el("li", "empty", "Nothing has happened since this node started."));
    for (const e of events) {
      const li = el("li");
      li.dataset.eventType = e.type;
      li.dataset.node = e.node;
      if (e.reason) li.dataset.reason = e.reason;
      const time = el("time", null, clock(e.at));
      if (e.at) time.dateTime = new Date(e.at).toISOString();
      const text = (EVENT_TEXT[e.type] || (() => e.type))(e);
      li.append(time, el("span", "badge " + (EVENT_CLASS[e.type] || "st-unknown"), text),
        el("span", "what", e.type.startsWith("node.") ? e.node : (e.pool || e.node)));
      li.append(el("span", "detail", detail(e)));
      list.append(li);
    }
  }

  // ---- start -----------------------------------------------------------------------------------------

  $("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = $("token").value.trim();
    if (!value) return;
    try { sessionStorage.setItem(TOKEN_KEY, value); } catch (e) { /* private mode: this load only */ }
    $("token").value = "";
    $("login").hidden = true;
    if (reader) reader.cancel().catch(() => {});
    connect();
  });

  connect();
})();
