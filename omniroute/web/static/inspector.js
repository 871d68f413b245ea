/* Inspector: live, virtualized request table with filters and keyboard navigation.
   Live updates come from the inspector WebSocket; without it, /requests is polled every 2 s. */
"use strict";
(function () {
  const { el, api } = Omni;
  const BASE = "/api/tools/traffic-inspector";
  const ROW_H = 28, OVERSCAN = 10, MAX_ROWS = 10000, PAGE = 1000, POLL_MS = 2000;
  const FILTER_KEYS = ["agent", "source", "status", "profile", "sessionId", "host", "q", "filter"];

  const state = { rows: [], byId: new Map(), selected: -1, filters: {}, ws: null, pollTimer: null,
                  loadSeq: 0, reloadTimer: null, total: 0, live: "off", filterError: null };
  const grid = document.getElementById("grid");
  const head = grid.querySelector(".grid-head"); // sticky inside the grid: rows start below it
  let headH = head.offsetHeight;
  const spacer = document.getElementById("grid-spacer");
  const form = document.getElementById("filters");

  // ---- rows ----
  function lastInt(text, re) {
    let m, last = null;
    re.lastIndex = 0;
    while ((m = re.exec(text)) !== null) last = Number(m[1]);
    return last;
  }
  const IN_RE = /"(?:prompt_tokens|input_tokens|promptTokenCount|inputTokens)"\s*:\s*(\d+)/g;
  const OUT_RE = /"(?:completion_tokens|output_tokens|candidatesTokenCount|outputTokens)"\s*:\s*(\d+)/g;
  function tokensOf(r) {
    if (r.tokens && typeof r.tokens === "object") return r.tokens;
    const i = r.insight;
    if (i && (i.tokensIn !== null || i.tokensOut !== null)) return { in: i.tokensIn, out: i.tokensOut };
    const body = typeof r.responseBody === "string" && r.responseBodyEncoding !== "base64" ? r.responseBody : "";
    if (!body) return null;
    const tin = lastInt(body, IN_RE), tout = lastInt(body, OUT_RE);
    return tin === null && tout === null ? null : { in: tin, out: tout };
  }
  function summarize(r) {
    return {
      id: r.id, timestamp: r.timestamp, time: Omni.fmtTime(r.timestamp), agent: r.agent || "", source: r.source || "", method: r.method || "",
      host: r.host || "", path: r.path || "", status: r.status, error: r.error, sourceModel: r.sourceModel,
      mappedModel: r.mappedModel, tokens: tokensOf(r), latency: r.totalLatencyMs,
      size: (r.requestSize || 0) + (r.responseSize || 0), annotation: r.annotation, sessionId: r.sessionId,
      cost: r.insight ? r.insight.cost : null, failure: r.insight ? r.insight.failure : null,
    };
  }
  function upsert(raw, atTop) {
    const row = summarize(raw);
    InspectorSessions.noteRow(row);
    const old = state.byId.get(row.id);
    if (old) { Object.assign(old, row, { v: old.v + 1 }); return false; }
    row.v = 0;
    state.byId.set(row.id, row);
    if (atTop) state.rows.unshift(row); else state.rows.push(row);
    if (state.selected >= 0 && atTop) state.selected += 1;
    return true;
  }
  function trim() {
    while (state.rows.length > MAX_ROWS) state.byId.delete(state.rows.pop().id);
  }
  function replaceAll(list) {
    const keep = state.rows[state.selected] && state.rows[state.selected].id;
    state.rows = []; state.byId = new Map();
    for (const r of list) upsert(r, false);
    trim();
    state.selected = keep ? state.rows.findIndex((r) => r.id === keep) : -1;
    render();
  }

  // ---- rendering (only the visible rows are in the DOM) ----
  function statusText(r) {
    if (r.status === "in-flight") return ["…", "st-f"];
    if (r.status === "error" || (r.error && typeof r.status !== "number")) return ["error", "st-e"];
    return [String(r.status), "st-" + String(r.status)[0]];
  }
  function modelText(r) {
    if (!r.sourceModel && !r.mappedModel) return "";
    if (!r.mappedModel) return (r.sourceModel || "") + (r.source === "api" ? "" : " (unmapped)");
    return `${r.sourceModel || "?"} → ${r.mappedModel}`;
  }
  function tokenText(t) {
    if (!t) return "";
    return `${t.in ?? "–"}/${t.out ?? "–"}`;
  }
  const COLS = 12;
  const pool = []; // row elements, reused as the view scrolls
  function makeRow() {
    const node = el("div", { class: "grid-row", role: "row" });
    for (let c = 0; c < COLS; c++) node.append(el("span", { role: "gridcell", class: c >= 8 ? "num" : null }));
    node.children[9].classList.add("cost");
    grid.append(node);
    return node;
  }
  function fillRow(node, r, i) {
    const sig = `${r.id}:${r.v}:${i}:${i === state.selected}`;
    if (node._sig === sig) return;
    node._sig = sig;
    const [st, stc] = statusText(r);
    const model = modelText(r);
    const texts = [r.time, r.agent || "—", r.source, r.method, r.host, r.path, st, model,
      tokenText(r.tokens), r.tokens ? OmniInsight.fmtCost(r.cost) : "", Omni.fmtMs(r.latency), Omni.fmtBytes(r.size)];
    const cells = node.children;
    for (let c = 0; c < COLS; c++) cells[c].textContent = texts[c];
    if (r.failure) cells[5].replaceChildren(OmniInsight.failureBadge(r.failure), " " + r.path);
    cells[9].classList.toggle("unknown", !!r.tokens && (r.cost === null || r.cost === undefined));
    cells[4].title = r.host; cells[5].title = r.path; cells[6].className = stc; cells[6].title = r.error || "";
    cells[7].title = model + (r.annotation ? "\n📝 " + r.annotation : "");
    node.className = "grid-row" + (i === state.selected ? " selected" : "");
    node.setAttribute("aria-selected", i === state.selected ? "true" : "false");
    node.dataset.id = r.id; node.dataset.index = String(i);
    node.style.top = headH + i * ROW_H + "px";
  }
  const emptyBox = document.getElementById("empty"), emptyText = document.getElementById("empty-text");
  const NOTHING_YET = emptyText.textContent;
  function drawEmpty(n) {
    emptyBox.hidden = n > 0;
    if (n > 0) return;
    const filtered = hasFilters();
    emptyText.textContent = state.filterError ? "The filter is invalid (see its message above), so no rows are shown."
      : filtered ? "No requests match these filters." : NOTHING_YET;
    document.getElementById("empty-reset").hidden = !filtered;
  }
  function render() {
    const n = state.rows.length;
    headH = head.offsetHeight; // read before any row is written: one layout per render, not per row
    spacer.style.height = n * ROW_H + "px";
    drawEmpty(n);
    const first = Math.max(0, Math.floor(grid.scrollTop / ROW_H) - OVERSCAN);
    const last = Math.min(n, Math.ceil((grid.scrollTop + grid.clientHeight) / ROW_H) + OVERSCAN);
    const count = Math.max(0, last - first);
    while (pool.length < count) pool.push(makeRow());
    while (pool.length > count) pool.pop().remove();
    pool.forEach((node, k) => fillRow(node, state.rows[first + k], first + k));
    const shown = state.total > n ? `${n} of ${state.total} (newest)` : `${n}`;
    document.getElementById("row-count").textContent = `${shown} request${n === 1 ? "" : "s"}`;
  }
  let renderQueued = false;
  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => { renderQueued = false; render(); });
  }
  grid.addEventListener("scroll", () => render(), { passive: true });
  window.addEventListener("resize", () => render());

  // ---- selection and keyboard ----
  function select(i, open) {
    if (!state.rows.length) return;
    state.selected = Math.max(0, Math.min(state.rows.length - 1, i));
    const top = headH + state.selected * ROW_H;
    if (top < grid.scrollTop + headH) grid.scrollTop = top - headH;
    else if (top + ROW_H > grid.scrollTop + grid.clientHeight) grid.scrollTop = top + ROW_H - grid.clientHeight;
    render();
    if (open) InspectorDetail.open(state.rows[state.selected].id);
  }
  grid.addEventListener("click", (ev) => {
    const row = ev.target.closest(".grid-row");
    if (row) { grid.focus(); select(Number(row.dataset.index), true); }
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.target.closest("input, textarea, select") || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const key = ev.key;
    if (key === "j" || key === "ArrowDown") select(state.selected + 1, false);
    else if (key === "k" || key === "ArrowUp") select(state.selected - 1, false);
    else if (key === "Enter" && state.selected >= 0) InspectorDetail.open(state.rows[state.selected].id);
    else if (key === "Escape") InspectorDetail.close();
    else if (key === "/") { form.elements.q.focus(); }
    else return;
    ev.preventDefault();
  });

  // ---- loading and filters ----
  function queryString(extra) {
    const params = new URLSearchParams();
    for (const k of FILTER_KEYS) if (state.filters[k]) params.set(k, state.filters[k]);
    for (const [k, v] of Object.entries(extra || {})) if (v !== null && v !== undefined) params.set(k, v);
    return params.toString();
  }
  const hasFilters = () => FILTER_KEYS.some((k) => state.filters[k]);

  async function load() {
    const seq = ++state.loadSeq;
    const all = [];
    let cursor = null;
    Omni.clearErrors(form);
    do {
      const r = await api("GET", `${BASE}/requests?${queryString({ limit: PAGE, cursor })}`);
      if (seq !== state.loadSeq) return;
      if (!r.ok) {
        Omni.showErrors(form, r.error, r.status === 400 ? "filter" : null);
        // Rows of the previous filter would read as the answer to this one.
        if (r.status === 400) { state.filterError = r.error.message; state.total = 0; replaceAll([]); }
        return;
      }
      all.push(...r.data.requests);
      state.total = r.data.total;
      cursor = r.data.nextCursor;
    } while (cursor && all.length < MAX_ROWS);
    state.filterError = null;
    replaceAll(all);
    updateExportLink();
  }
  function scheduleReload() {
    clearTimeout(state.reloadTimer);
    state.reloadTimer = setTimeout(load, 400);
  }
  function readFilters() {
    const data = Omni.formData(form);
    state.filters = {};
    for (const k of FILTER_KEYS) if (data[k]) state.filters[k] = data[k];
    const url = new URL(location.href);
    url.search = queryString();
    history.replaceState(null, "", url);
  }
  form.addEventListener("submit", (ev) => { ev.preventDefault(); readFilters(); load(); });
  form.addEventListener("change", (ev) => { if (ev.target.tagName === "SELECT") { readFilters(); load(); } });
  const resetFilters = () => { form.reset(); readFilters(); load(); };
  document.getElementById("filters-reset").addEventListener("click", resetFilters);
  document.getElementById("empty-reset").addEventListener("click", resetFilters);
  document.getElementById("clear-view").addEventListener("click", () => { state.total = 0; replaceAll([]); });
  const clearBuffer = document.getElementById("clear-buffer");
  Omni.has("DELETE", `${BASE}/requests`).then((ok) => { clearBuffer.hidden = !ok; });
  clearBuffer.addEventListener("click", async () => {
    if (!confirm("Forget every captured request in memory? Recorded sessions stay.")) return;
    const r = await api("DELETE", `${BASE}/requests`);
    if (!r.ok) { Omni.toast(r.error.message, true); return; }
    state.total = 0; replaceAll([]);
  });

  // ---- live updates ----
  function setLive(mode, text) {
    state.live = mode;
    const badge = document.getElementById("live-state");
    badge.textContent = text;
    badge.className = "badge " + (mode === "ws" ? "ok" : mode === "poll" ? "info" : "warn");
  }
  // The page is ready once live updates have their footing: the socket's first snapshot, or
  // polling. Rows handled before that would be replaced by the snapshot when it arrives.
  let markSynced;
  const firstSync = new Promise((resolve) => { markSynced = resolve; });
  function onEvent(ev) {
    if (ev.type === "snapshot") { markSynced(); if (!hasFilters()) { state.total = ev.data.length; replaceAll(ev.data); } else load(); return; }
    if (ev.type === "clear") { state.total = 0; replaceAll([]); return; }
    if (ev.type === "resync") { load(); return; }
    if (ev.type !== "new" && ev.type !== "update") return;
    if (hasFilters()) { scheduleReload(); return; }
    if (upsert(ev.data, true)) { state.total += 1; trim(); }
    scheduleRender();
    InspectorDetail.refreshIf(ev.data.id);
  }
  async function poll() {
    const r = await api("GET", `${BASE}/requests?${queryString({ limit: 200 })}`);
    if (r.ok) {
      let added = false;
      for (const raw of r.data.requests.slice().reverse()) added = upsert(raw, true) || added;
      state.total = Math.max(r.data.total, state.rows.length);
      trim();
      scheduleRender();
      if (r.data.requests.some((x) => x.id === InspectorDetail.currentId())) InspectorDetail.refreshIf(InspectorDetail.currentId());
    }
  }
  function startPolling(why) {
    markSynced();
    if (state.pollTimer) return;
    setLive("poll", "polling every 2 s" + (why ? ` (${why})` : ""));
    state.pollTimer = setInterval(poll, POLL_MS);
  }
  function stopPolling() { clearInterval(state.pollTimer); state.pollTimer = null; }
  async function connect(attempt) {
    if (!(await Omni.has("WS", `${BASE}/ws`))) { startPolling("live socket not available"); return; }
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const key = Omni.apiKey();
    const ws = new WebSocket(`${proto}//${location.host}${BASE}/ws${key ? "?key=" + encodeURIComponent(key) : ""}`);
    let opened = false;
    ws.onopen = () => { opened = true; stopPolling(); setLive("ws", "live"); };
    ws.onmessage = (m) => { try { onEvent(JSON.parse(m.data)); } catch (exc) { console.warn("bad inspector event", exc); } };
    ws.onclose = () => {
      state.ws = null;
      startPolling(opened ? "live socket closed; reconnecting" : "live socket refused");
      setTimeout(() => connect(attempt + 1), Math.min(30000, 1000 * 2 ** Math.min(attempt, 5)));
    };
    state.ws = ws;
  }

  // ---- export ----
  function currentRowsJson() {
    return JSON.stringify(state.rows, null, 2);
  }
  async function updateExportLink() {
    const link = document.getElementById("export-har");
    if (await Omni.has("GET", `${BASE}/export.har`)) {
      link.href = Omni.withKey(`${BASE}/export.har?${queryString()}`);
      link.hidden = false;
    } else {
      link.hidden = true;
    }
  }
  document.getElementById("export-json").addEventListener("click", () =>
    Omni.download("omniroute-inspector.json", currentRowsJson()));

  // ---- start ----
  async function init() {
    const params = new URLSearchParams(location.search);
    for (const k of FILTER_KEYS) if (params.get(k) && form.elements[k]) form.elements[k].value = params.get(k);
    const agents = await api("GET", "/api/tools/agent-bridge/agents");
    if (agents.ok) {
      for (const a of agents.data) form.elements.agent.append(el("option", { value: a.id, text: a.name || a.id }));
      if (params.get("agent")) form.elements.agent.value = params.get("agent");
    }
    readFilters();
    await InspectorSessions.init({ onChange: () => { readFilters(); load(); }, sessionSelect: form.elements.sessionId });
    await load();
    connect(0);
    await Promise.race([firstSync, new Promise((resolve) => setTimeout(resolve, 3000))]);
    document.body.dataset.ready = "true";
  }

  window.OmniInspector = {
    state, load, render: () => render(), select,
    ingest: (list) => { for (const r of list) upsert(r, true); state.total = state.rows.length; trim(); render(); },
    filtersQuery: () => queryString(),
  };
  init();
})();
