/* Inspector recording sessions: start, stop, rename, delete, export HAR, filter by session. */
"use strict";
(function () {
  const { el, api } = Omni;
  const BASE = "/api/tools/traffic-inspector/sessions";
  const form = document.getElementById("session-form");
  const list = document.getElementById("session-list");
  let sessions = [], opts = {};
  const costs = new Map();  // session id → the cost cell's last text, kept across redraws
  // Finished rows of the active session seen live: the bar counts them at once, before the
  // session writer has stored them and the next refresh brings the stored count.
  let seen = { sessionId: null, ids: new Set() };

  const field = (s, ...names) => { for (const n of names) if (s[n] !== undefined) return s[n]; return null; };
  const endedAt = (s) => field(s, "ended_at", "endedAt");
  const active = () => sessions.find((s) => !endedAt(s));

  async function refresh() {
    const res = await api("GET", BASE);
    if (!res.ok) { list.replaceChildren(el("p", { class: "form-error", text: res.error.message })); return; }
    sessions = Array.isArray(res.data) ? res.data : (res.data.sessions || res.data.items || []);
    draw();
  }

  function drawActive() {
    const current = active();
    if (!current) { document.getElementById("session-active").textContent = "not recording"; return; }
    const stored = field(current, "request_count", "requestCount") ?? 0;
    const count = Math.max(stored, seen.sessionId === current.id ? seen.ids.size : 0);
    document.getElementById("session-active").textContent =
      `● recording “${current.name || current.id.slice(0, 8)}”: ${count} request${count === 1 ? "" : "s"} recorded`;
  }
  function noteRow(row) {
    const current = active();
    if (!current || row.sessionId !== current.id || row.status === "in-flight") return;
    if (seen.sessionId !== current.id) seen = { sessionId: current.id, ids: new Set() };
    if (seen.ids.has(row.id)) return;
    seen.ids.add(row.id);
    drawActive();
  }

  function draw() {
    const current = active();
    drawActive();
    document.getElementById("session-start").hidden = !!current;
    document.getElementById("session-stop").hidden = !current;
    form.elements.name.hidden = !!current;
    const select = opts.sessionSelect;
    if (select) {
      const keep = select.value;
      select.replaceChildren(el("option", { value: "", text: "any" }),
        ...sessions.map((s) => el("option", { value: s.id, text: s.name || s.id.slice(0, 8) })));
      select.value = keep;
    }
    if (!sessions.length) { list.replaceChildren(el("p", { class: "muted", text: "No recording sessions yet." })); return; }
    list.replaceChildren(el("table", { class: "list" },
      el("thead", {}, el("tr", {}, ["Name", "Started", "Ended", "Requests", "Cost", ""].map((h) => el("th", { text: h })))),
      el("tbody", {}, sessions.map(sessionRow))));
  }

  function sessionRow(s) {
    const name = el("input", { value: s.name || "", size: "22", "aria-label": "session name" });
    const cell = el("td", { dataset: { field: "name" } }, name);
    const rename = async () => {
      const res = await api("PATCH", `${BASE}/${s.id}`, { action: "rename", name: name.value.trim() });
      if (!res.ok) { Omni.showErrors(cell, res.error, "name"); return; }
      Omni.toast("Session renamed"); refresh();
    };
    // A redraw shows the cost it last knew while it asks again: no flash of "…" per refresh.
    const known = costs.get(s.id);
    const cost = el("td", { class: "num cost session-cost", text: known ? known.text : "…" });
    if (known) cost.classList.toggle("unknown", known.unknown);
    api("GET", `/api/tools/traffic-inspector/insight/totals?sessionId=${encodeURIComponent(s.id)}`).then((res) => {
      const shown = { text: res.ok ? OmniInsight.fmtCost(res.data.cost) : "", unknown: res.ok && res.data.cost === null };
      costs.set(s.id, shown);
      cost.textContent = shown.text;
      cost.classList.toggle("unknown", shown.unknown);
    });
    return el("tr", { dataset: { session: s.id } }, cell,
      el("td", { text: Omni.fmtDateTime(field(s, "started_at", "startedAt")) }),
      el("td", { text: endedAt(s) ? Omni.fmtDateTime(endedAt(s)) : "recording" }),
      el("td", { class: "num", text: String(field(s, "request_count", "requestCount") ?? 0) }), cost,
      el("td", { class: "inline" },
        el("button", { type: "button", class: "ghost", text: "Rename", onclick: rename }),
        el("button", { type: "button", class: "ghost", text: "Show", onclick: () => { opts.sessionSelect.value = s.id; opts.onChange(); } }),
        el("a", { class: "button ghost", href: Omni.withKey(`${BASE}/${s.id}/export.har`), download: `omniroute-session-${s.id}.har`, text: "Export HAR" }),
        el("button", { type: "button", class: "danger", text: "Delete", onclick: async () => {
          if (!confirm(`Delete session “${s.name || s.id}”? Its requests stay in the live view.`)) return;
          const res = await api("DELETE", `${BASE}/${s.id}`);
          if (!res.ok) { Omni.toast(res.error.message, true); return; }
          if (opts.sessionSelect.value === s.id) { opts.sessionSelect.value = ""; opts.onChange(); }
          refresh();
        } })));
  }

  async function init(options) {
    opts = options;
    if (!(await Omni.has("GET", BASE))) {
      form.querySelectorAll("button, input").forEach((n) => { n.disabled = true; });
      form.append(Omni.unavailable("Recording sessions"));
      opts.sessionSelect.disabled = true;
      return;
    }
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const name = form.elements.name.value.trim();
      const res = await api("POST", BASE, name ? { name } : {});
      if (!res.ok) { Omni.showErrors(form, res.error, "name"); return; }
      Omni.clearErrors(form); form.elements.name.value = ""; Omni.toast("Recording started"); refresh();
    });
    document.getElementById("session-stop").addEventListener("click", async () => {
      const current = active();
      if (!current) return;
      const res = await api("PATCH", `${BASE}/${current.id}`, { action: "stop" });
      if (!res.ok) { Omni.showErrors(form, res.error); return; }
      Omni.toast("Recording stopped"); refresh();
    });
    document.getElementById("session-toggle").addEventListener("click", () => { list.hidden = !list.hidden; if (!list.hidden) refresh(); });
    setInterval(() => { if (active() || !list.hidden) refresh(); }, 5000);
    await refresh();
  }

  window.InspectorSessions = { init, refresh, noteRow };
})();
