/* Shared by the Inspector and Usage pages: cost text ("unknown" when no price is known, never
   $0), one stable colour per series name (the same in a chart and its legend, on every page),
   the failure badge and the engine's steps of a call. */
"use strict";
(function () {
  const { el } = Omni;
  const SVG = "http://www.w3.org/2000/svg";

  /** An SVG element (charts are inline SVG, drawn with no library). */
  function svg(tag, attrs, ...children) {
    const n = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, String(v));
    for (const c of children) n.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return n;
  }

  /** USD text; null/undefined is an unpriced model: "unknown", never "$0". */
  function fmtCost(cost) {
    if (cost === null || cost === undefined || cost === "") return "unknown";
    const v = Number(cost);
    if (!Number.isFinite(v)) return "unknown";
    if (v === 0) return "$0";
    if (v < 0.000001) return "<$0.000001";
    return "$" + (v < 0.01 ? v.toPrecision(2) : v < 1 ? v.toFixed(4) : v.toFixed(2));
  }

  // A series' colour comes from its name, not its rank: a model keeps its colour when the
  // split, the period or the other series change. Hues are spread by the golden angle from a
  // hash of the name, so names do not cycle through a palette of 8.
  const colours = new Map();
  function seriesColor(name) {
    const key = String(name ?? "");
    let c = colours.get(key);
    if (c) return c;
    let h = 2166136261;
    for (let i = 0; i < key.length; i++) { h ^= key.charCodeAt(i); h = Math.imul(h, 16777619); }
    const n = h >>> 0;
    const hue = Math.round((n % 360) * 0.382 + ((n >>> 9) % 1000) * 137.508) % 360;
    const light = 38 + ((n >>> 19) % 3) * 8;
    c = `hsl(${hue} 65% ${light}%)`;
    colours.set(key, c);
    return c;
  }

  /** The list's badge for a failed call: its kind, the reason on hover. */
  function failureBadge(f) {
    if (!f) return null;
    return el("span", { class: "badge err fail-badge", title: `${f.status} ${f.kind}: ${f.message || ""}`.trim(), text: f.kind });
  }

  function stepsList(steps) {
    if (!steps || !steps.length) return null;
    return el("ol", { class: "steps" }, steps.map((s) => el("li", { class: "step step-" + String(s.outcome).replace(/\s+/g, "-") },
      el("strong", { text: s.outcome }), " ", el("code", { text: s.target || "" }),
      s.status ? ` → ${s.status}` : "", s.reason ? el("span", { class: "muted", text: ` ${s.reason}` }) : "")));
  }

  /** The overview's "at a glance" block: failure reason, steps, tokens and cost, thread. */
  function overview(r, onThread) {
    const info = r.insight;
    if (!info) return [];
    const parts = [];
    if (info.failure) {
      const f = info.failure;
      parts.push(el("div", { class: "failure-box", role: "alert" },
        el("strong", { text: `Failed: ${f.kind}` }), ` (status ${f.status})`,
        f.message ? el("div", { class: "failure-message", text: f.message }) : "",
        f.fellBack ? el("div", { class: "muted", text: `${f.fellBack} fallback(s) taken before this answer` }) : ""));
    }
    if (info.steps && info.steps.length) parts.push(el("h3", { text: "Attempts" }), stepsList(info.steps));
    const rows = [];
    if (info.tokensIn !== null || info.tokensOut !== null) {
      rows.push(["Tokens", `${info.tokensIn ?? "–"} in / ${info.tokensOut ?? "–"} out` + (info.tokensCached ? ` (${info.tokensCached} cached)` : "")]);
      rows.push(["Cost", el("span", { class: "cost" + (info.cost === null ? " unknown" : ""), text: fmtCost(info.cost) + (info.model ? ` (${info.model})` : "") })]);
    }
    if (info.replayOf) rows.push(["Replay of", el("code", { text: info.replayOf })]);
    if (info.thread) {
      const link = el("button", { type: "button", class: "link open-thread", text: `${info.thread.key} (by ${info.thread.by})` });
      link.addEventListener("click", () => onThread && onThread(info.thread.key));
      rows.push(["Conversation", link]);
    }
    if (rows.length) parts.push(el("dl", { class: "kv insight" }, rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)])));
    return parts;
  }

  window.OmniInsight = { fmtCost, seriesColor, failureBadge, stepsList, overview, svg };
})();
