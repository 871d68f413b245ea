/* Inspector detail pane: headers, pretty bodies, merged stream, conversation, timing,
   replay (optional model override) and annotation. */
"use strict";
(function () {
  const { el, api } = Omni;
  const BASE = "/api/tools/traffic-inspector";
  const pane = document.getElementById("detail");
  const body = document.getElementById("detail-body");
  let current = null, tab = "overview", refreshTimer = null;

  function pretty(text, encoding) {
    if (text === null || text === undefined || text === "") return el("p", { class: "muted", text: "(empty)" });
    if (encoding === "base64") return el("pre", { text: `(binary, base64)\n${text.slice(0, 4000)}` });
    try { return el("pre", { class: "json", text: JSON.stringify(JSON.parse(text), null, 2) }); } catch { /* not JSON */ }
    return el("pre", { text });
  }
  function headersTable(headers) {
    const entries = Object.entries(headers || {});
    if (!entries.length) return el("p", { class: "muted", text: "(no headers)" });
    return el("table", { class: "list mono" },
      el("tbody", {}, entries.map(([k, v]) => el("tr", {}, el("th", { text: k }), el("td", { text: v })))));
  }
  function kv(pairs) {
    return el("dl", { class: "kv" }, pairs.filter(([, v]) => v !== null && v !== undefined && v !== "")
      .flatMap(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)]));
  }

  function timing(r) {
    const total = r.totalLatencyMs, proxy = r.proxyLatencyMs || 0, up = r.upstreamLatencyMs || 0;
    if (!total) return el("p", { class: "muted", text: r.status === "in-flight" ? "in flight…" : "no timing recorded" });
    const rest = Math.max(0, total - proxy - up);
    const pct = (v) => (100 * v / total).toFixed(2) + "%";
    return el("div", { class: "timing-box" },
      el("div", { class: "timing", role: "img", "aria-label": `proxy ${proxy} ms, upstream ${up} ms, total ${total} ms` },
        el("span", { class: "t-proxy", style: `width:${pct(proxy)}` }), el("span", { class: "t-up", style: `width:${pct(up)}` }),
        el("span", { class: "t-rest", style: `width:${pct(rest)}` })),
      el("div", { class: "legend" },
        el("span", {}, el("i", { style: "background:var(--c3)" }), `proxy ${Omni.fmtMs(proxy)}`),
        el("span", {}, el("i", { style: "background:var(--c1)" }), `upstream ${Omni.fmtMs(up)}`),
        el("span", {}, el("i", { style: "background:var(--c6)" }), `other ${Omni.fmtMs(rest)}`),
        el("strong", {}, `total ${Omni.fmtMs(total)}`)));
  }

  /** The readable text of a merged message, whatever the format. */
  function mergedText(m) {
    return m && m.message ? readableText(m.message) : "";
  }
  /** The reply of a model call answered in one piece (not streamed, so nothing was merged). */
  function wholeReplyText(r) {
    if (r.stream || !r.wireFormat || r.responseBodyEncoding === "base64" || !r.responseBody) return "";
    try { return readableText(JSON.parse(r.responseBody)); } catch { return ""; }
  }
  function readableText(msg) {
    const out = [];
    const walk = (v, key) => {
      if (typeof v === "string") { if (["content", "text", "output_text", "delta"].includes(key)) out.push(v); return; }
      if (Array.isArray(v)) { v.forEach((x) => walk(x, key)); return; }
      if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) if (k !== "thinking" && k !== "signature") walk(x, k);
    };
    walk(msg, "");
    return out.join("");
  }

  function renderOverview(r) {
    const status = r.status === "in-flight" ? "in flight" : String(r.status);
    const parts = [
      kv([["URL", `${r.scheme || "https"}://${r.host}${r.path}${r.query ? "?" + r.query : ""}`], ["Method", r.method],
          ["Status", status + (r.reason ? " " + r.reason : "")], ["Error", r.error], ["Agent", r.agent || "—"], ["Source", r.source],
          ["Model", r.mappedModel ? `${r.sourceModel || "?"} → ${r.mappedModel}` : (r.sourceModel ? r.sourceModel + (r.source === "api" ? "" : " (unmapped, passed through)") : "")],
          ["Kind", r.detectedKind], ["Wire format", r.wireFormat], ["Context key", r.contextKey], ["Session", r.sessionId],
          ["Time", Omni.fmtDateTime(r.timestamp)], ["Sizes", `request ${Omni.fmtBytes(r.requestSize)}, response ${Omni.fmtBytes(r.responseSize)}`],
          ["Note", r.note]]),
      ...OmniInsight.overview(r, (key) => window.InspectorConversations && InspectorConversations.openThread(key)),
      el("h3", { text: "Timing" }), timing(r),
    ];
    const text = mergedText(r.merged) || wholeReplyText(r);
    if (text) parts.push(el("h3", { text: "Reply" }), el("pre", { class: "merged-text", text }));
    parts.push(annotationForm(r), replayForm(r));
    return parts;
  }

  function annotationForm(r) {
    const form = el("form", { class: "stack", id: "annotation-form" },
      el("h3", { text: "Annotation" }),
      el("label", { dataset: { field: "annotation" } }, el("textarea", { name: "annotation", maxlength: "10000", rows: "3",
        placeholder: "a note for this request (kept in HAR exports)" }, r.annotation || "")),
      el("button", { type: "submit", text: "Save annotation" }));
    form.elements.annotation.value = r.annotation || "";
    Omni.has("PUT", `${BASE}/requests/{request_id}/annotation`).then((ok) => {
      if (!ok) { form.querySelector("button").disabled = true; form.append(Omni.unavailable("Annotation")); }
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const res = await api("PUT", `${BASE}/requests/${r.id}/annotation`, { annotation: form.elements.annotation.value });
      if (!res.ok) { Omni.showErrors(form, res.error, "annotation"); return; }
      Omni.clearErrors(form); Omni.toast("Annotation saved");
    });
    return form;
  }

  function replayForm(r) {
    const out = el("div", { id: "replay-result" });
    const form = el("form", { class: "stack", id: "replay-form" },
      el("h3", { text: "Replay through OmniRoute" }),
      el("div", { class: "inline" },
        el("label", { dataset: { field: "model" } }, "Model override (optional)",
          el("input", { name: "model", placeholder: r.mappedModel || r.sourceModel || "model", size: "28" })),
        el("button", { type: "submit", text: "Replay" })), out);
    Omni.has("POST", `${BASE}/requests/{request_id}/replay`).then((ok) => {
      if (!ok) { form.querySelector("button").disabled = true; form.append(Omni.unavailable("Replay")); }
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const model = form.elements.model.value.trim();
      out.replaceChildren(el("p", { class: "muted", text: "replaying…" }));
      const res = await api("POST", `${BASE}/requests/${r.id}/replay`, model ? { model } : {});
      if (!res.ok) { out.replaceChildren(); Omni.showErrors(form, res.error, "model"); return; }
      Omni.clearErrors(form);
      const data = res.data;
      const text = typeof data === "string" ? data : JSON.stringify(data, null, 2);
      out.replaceChildren(el("p", { class: "muted", text: "Replay result (recorded in usage with source replay):" }), el("pre", { class: "replay-output", text }));
    });
    return form;
  }

  function renderConversation(conv) {
    if (!conv) return [el("p", { class: "muted", text: "No conversation view for this request (not a recognised model call)." })];
    const parts = [];
    if (conv.model || conv.format) parts.push(kv([["Format", conv.format], ["Model", conv.model], ["Tools", (conv.tools || []).join(", ")]]));
    if (conv.system) parts.push(el("div", { class: "msg system" }, el("div", { class: "role", text: "system" }), el("div", { class: "part-text", text: conv.system })));
    for (const m of conv.messages || []) {
      const box = el("div", { class: "msg " + (m.role || "") }, el("div", { class: "role", text: m.role || "?" }));
      const content = Array.isArray(m.content) ? m.content : [{ type: "text", text: String(m.content ?? "") }];
      for (const p of content) {
        if (p.type === "text") box.append(el("div", { class: "part-text", text: p.text }));
        else if (p.type === "thinking") box.append(el("details", {}, el("summary", { text: "thinking" }), el("div", { class: "part-text muted", text: p.text })));
        else if (p.type === "tool_call") box.append(el("div", {}, el("strong", { text: `tool call ${p.name || ""}` }), el("pre", { text: JSON.stringify(p.arguments ?? p.input ?? p, null, 2) })));
        else if (p.type === "tool_result") box.append(el("div", {}, el("strong", { text: "tool result" }), el("pre", { text: typeof p.content === "string" ? p.content : JSON.stringify(p.content ?? p, null, 2) })));
        else box.append(el("pre", { text: JSON.stringify(p, null, 2) }));
      }
      parts.push(box);
    }
    if (conv.usage) parts.push(el("h3", { text: "Usage" }), el("pre", { text: JSON.stringify(conv.usage, null, 2) }));
    return parts;
  }

  function draw() {
    if (!current) return;
    const r = current;
    document.querySelectorAll("#detail .tabs button").forEach((b) => {
      b.classList.toggle("active", b.dataset.tab === tab);
      b.setAttribute("aria-selected", String(b.dataset.tab === tab));
    });
    let parts;
    if (tab === "request") {
      parts = [el("h3", { text: "Request headers" }), headersTable(r.requestHeaders),
        el("h3", { text: "Request body" + (r.requestTruncated ? " (truncated)" : "") }), pretty(r.requestBody, r.requestBodyEncoding)];
    } else if (tab === "response") {
      parts = [el("h3", { text: "Response headers" }), headersTable(r.responseHeaders),
        el("h3", { text: "Response body" + (r.responseTruncated ? " (truncated)" : "") }), pretty(r.responseBody, r.responseBodyEncoding)];
    } else if (tab === "merged") {
      parts = r.merged
        ? [kv([["Format", r.merged.format], ["Events", r.merged.events], ["Error", r.merged.error]]),
           el("h3", { text: "Text" }), el("pre", { class: "merged-text", text: mergedText(r.merged) || "(no text)" }),
           el("h3", { text: "Merged message" }), el("pre", { class: "merged-json", text: JSON.stringify(r.merged.message, null, 2) })]
        : [el("p", { class: "muted", text: r.stream ? "The stream could not be merged." : "Not a streamed response: see the Response tab." })];
    } else if (tab === "conversation") {
      parts = renderConversation(r.conversation);
    } else {
      parts = renderOverview(r);
    }
    body.replaceChildren(...parts);
  }

  async function open(id, showTab) {
    if (showTab) tab = showTab;
    const res = await api("GET", `${BASE}/requests/${encodeURIComponent(id)}`);
    pane.hidden = false;
    if (!res.ok) { current = null; body.replaceChildren(el("p", { class: "form-error", text: res.error.message })); return; }
    const keepTab = current && current.id === id;
    current = res.data;
    if (!keepTab && tab === "conversation" && !current.conversation) tab = "overview";
    document.getElementById("detail-title").textContent = `${current.method} ${current.host}${current.path}`;
    draw();
  }
  function close() { pane.hidden = true; current = null; }
  function refreshIf(id) {
    if (!current || current.id !== id) return;
    if (document.activeElement && pane.contains(document.activeElement) && document.activeElement.matches("input, textarea")) return;
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => open(id), 300);
  }

  document.querySelectorAll("#detail .tabs button").forEach((b) => b.addEventListener("click", () => { tab = b.dataset.tab; draw(); }));
  document.getElementById("detail-close").addEventListener("click", close);
  window.InspectorDetail = { open, close, refreshIf, currentId: () => current && current.id };
})();
