/* Inspector conversations: the calls of one agent session grouped as a thread, with its
   tokens, cost, duration, models and errors; a timeline of its calls; step through its turns
   (each opens in the detail pane's Conversation tab). Also the cost totals of the view. */
"use strict";
(function () {
  const { el, api } = Omni;
  const { fmtCost, seriesColor, failureBadge, svg } = OmniInsight;
  const BASE = "/api/tools/traffic-inspector";
  const toggle = document.getElementById("conversations-toggle");
  const bodyBox = document.getElementById("conversations-body");
  const listBox = document.getElementById("conversation-list");
  const threadBox = document.getElementById("conversation-thread");
  const totalsBox = document.getElementById("insight-totals");
  let openKey = null, calls = [], summary = null, turn = -1;

  const sessionId = () => { const s = document.querySelector("#filters [name=sessionId]"); return s ? s.value : ""; };
  const query = () => (sessionId() ? `?sessionId=${encodeURIComponent(sessionId())}` : "");
  const tokens = (a, b) => `${Omni.fmtNum(a || 0)} / ${Omni.fmtNum(b || 0)}`;
  const costText = (c) => fmtCost(c.cost) + (c.unpricedCalls && c.cost !== null ? ` (+${c.unpricedCalls} unpriced)` : "");

  async function loadTotals() {
    const res = await api("GET", `${BASE}/insight/totals${query()}`);
    if (!res.ok) return;
    const t = res.data;
    totalsBox.textContent = `${t.modelCalls} model call${t.modelCalls === 1 ? "" : "s"} · tokens ${tokens(t.tokensIn, t.tokensOut)} · cost ${costText(t)}`
      + (t.errors ? ` · ${t.errors} failed` : "") + (t.sessionId ? " (this recording session)" : "");
  }

  async function loadList() {
    const res = await api("GET", `${BASE}/conversations${query()}`);
    if (!res.ok) { listBox.replaceChildren(el("p", { class: "form-error", text: res.error.message })); return; }
    const items = res.data.conversations;
    if (!items.length) { listBox.replaceChildren(el("p", { class: "muted", text: "No conversations yet: an agent's calls appear here grouped by its session." })); return; }
    listBox.replaceChildren(el("table", { class: "list conversation-table" },
      el("thead", {}, el("tr", {}, ["Agent", "Session", "Calls", "Tokens in/out", "Cost", "Duration", "Models", "Errors", "Last call"].map((h) => el("th", { text: h })))),
      el("tbody", {}, items.map((c) => {
        const tr = el("tr", { class: "conversation-row" + (c.key === openKey ? " selected" : ""), tabindex: "0", dataset: { key: c.key } },
          el("td", { text: c.agent || "—" }), el("td", { class: "mono", title: `${c.key} (by ${c.by})`, text: c.key.split(":").slice(1).join(":").slice(0, 18) }),
          el("td", { class: "num", text: String(c.calls) }), el("td", { class: "num", text: tokens(c.tokensIn, c.tokensOut) }),
          el("td", { class: "num cost" + (c.cost === null ? " unknown" : ""), text: costText(c) }),
          el("td", { class: "num", text: Omni.fmtMs(c.durationMs) }),
          el("td", {}, ...c.models.map((m) => el("span", { class: "model-chip" }, el("i", { style: `background:${seriesColor(m)}` }), m))),
          el("td", { class: "num" + (c.errors ? " st-e" : ""), text: String(c.errors) }), el("td", { text: Omni.fmtTime(c.lastAt) }));
        tr.addEventListener("click", () => openThread(c.key));
        tr.addEventListener("keydown", (ev) => { if (ev.key === "Enter") openThread(c.key); });
        return tr;
      }))));
  }

  function timeline(list) {
    const t0 = Date.parse(list[0].timestamp);
    const end = Math.max(...list.map((c) => Date.parse(c.timestamp) + (c.latencyMs || 0)));
    const span = Math.max(1, end - t0), W = 900, rowH = 16, left = 4;
    const chart = svg("svg", { class: "chart thread-timeline", viewBox: `0 0 ${W} ${list.length * rowH + 4}`, role: "img", "aria-label": `timeline of ${list.length} calls` });
    list.forEach((c, i) => {
      const x = left + (W - left - 4) * (Date.parse(c.timestamp) - t0) / span;
      const w = Math.max(3, (W - left - 4) * (c.latencyMs || 0) / span);
      const rect = svg("rect", { x, y: i * rowH + 2, width: w, height: rowH - 4, rx: 2, fill: seriesColor(c.model || c.mappedModel || "?"),
        class: "turn-bar" + (c.failure ? " failed" : "") + (i === turn ? " current" : ""), dataset: i },
        svg("title", {}, `#${i + 1} ${c.model || ""} · ${Omni.fmtMs(c.latencyMs)} · ${fmtCost(c.cost)}${c.failure ? " · " + c.failure.kind : ""}`));
      rect.addEventListener("click", () => step(i));
      chart.append(rect);
    });
    return chart;
  }

  function drawThread(data) {
    const s = summary = data.summary;
    calls = data.calls;
    const models = s.models.map((m) => el("span", { class: "model-chip" }, el("i", { style: `background:${seriesColor(m)}` }), m));
    const prev = el("button", { type: "button", class: "ghost", id: "turn-prev", text: "◀ Previous turn", disabled: turn <= 0 });
    const next = el("button", { type: "button", class: "ghost", id: "turn-next", text: "Next turn ▶", disabled: turn >= calls.length - 1 });
    prev.addEventListener("click", () => step(turn - 1));
    next.addEventListener("click", () => step(turn + 1));
    threadBox.replaceChildren(
      el("div", { class: "inline" }, el("strong", { text: `${s.agent || "?"} · ${s.key}` }), el("span", { class: "muted", text: `grouped by ${s.by}` }),
        el("span", { class: "spacer" }), prev, el("span", { id: "turn-label", class: "muted", text: turn >= 0 ? `turn ${turn + 1} of ${calls.length}` : `${calls.length} turns` }), next,
        el("button", { type: "button", class: "ghost", text: "Close", onclick: () => { openKey = null; threadBox.hidden = true; loadList(); } })),
      el("dl", { class: "kv thread-summary" }, ...[["Calls", String(s.calls)], ["Tokens in/out", tokens(s.tokensIn, s.tokensOut)],
        ["Cost", el("span", { class: "cost" + (s.cost === null ? " unknown" : ""), text: costText(s) })], ["Duration", Omni.fmtMs(s.durationMs)],
        ["Models", el("span", {}, ...models)], ["Errors", String(s.errors)], ["From", `${Omni.fmtDateTime(s.firstAt)} to ${Omni.fmtTime(s.lastAt)}`]]
        .flatMap(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)])),
      timeline(calls),
      el("table", { class: "list thread-calls" },
        el("thead", {}, el("tr", {}, ["#", "Time", "Model", "Status", "Tokens in/out", "Cost", "Latency"].map((h) => el("th", { text: h })))),
        el("tbody", {}, calls.map((c, i) => {
          const tr = el("tr", { class: "thread-call" + (i === turn ? " selected" : ""), dataset: { id: c.id } },
            el("td", { class: "num", text: String(i + 1) }), el("td", { text: Omni.fmtTime(c.timestamp) }),
            el("td", { text: c.model || c.mappedModel || c.sourceModel || "" }),
            el("td", {}, c.failure ? failureBadge(c.failure) : String(c.status)),
            el("td", { class: "num", text: tokens(c.tokensIn, c.tokensOut) }),
            el("td", { class: "num cost" + (c.cost === null && c.tokensIn !== null ? " unknown" : ""), text: c.tokensIn === null && c.tokensOut === null ? "" : fmtCost(c.cost) }),
            el("td", { class: "num", text: Omni.fmtMs(c.latencyMs) }));
          tr.addEventListener("click", () => step(i));
          return tr;
        }))));
    threadBox.hidden = false;
  }

  async function openThread(key) {
    if (bodyBox.hidden) setOpen(true);
    const res = await api("GET", `${BASE}/conversations/${encodeURIComponent(key)}${query()}`);
    if (!res.ok) { threadBox.hidden = false; threadBox.replaceChildren(el("p", { class: "form-error", text: res.error.message })); return; }
    if (openKey !== key) turn = -1;
    openKey = key;
    drawThread(res.data);
    listBox.querySelectorAll(".conversation-row").forEach((tr) => tr.classList.toggle("selected", tr.dataset.key === key));
    threadBox.scrollIntoView({ block: "nearest" });
  }

  function step(i) {
    if (i < 0 || i >= calls.length) return;
    turn = i;
    drawThread({ summary, calls });
    InspectorDetail.open(calls[i].id, "conversation");
  }

  function setOpen(open) {
    bodyBox.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    toggle.textContent = open ? "Hide conversations ▴" : "Show conversations ▾";
    if (open) loadList();
  }
  toggle.addEventListener("click", () => setOpen(bodyBox.hidden));

  async function refresh() {
    await loadTotals();
    if (!bodyBox.hidden) {
      await loadList();
      if (openKey && turn < 0) openThread(openKey);
    }
  }
  refresh();
  setInterval(() => { if (!document.hidden) refresh(); }, 3000);
  const sessionSelect = document.querySelector("#filters [name=sessionId]");
  if (sessionSelect) sessionSelect.addEventListener("change", refresh);
  window.InspectorConversations = { openThread, refresh };
})();
