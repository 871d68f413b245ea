/* Shared by the Inspector and Usage pages: cost text ("unknown" when no price is known, never
   $0), one colour per series name (the same in every chart and legend of the page, and apart
   from the other names'), the failure badge and the engine's steps of a call. */
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

  /** A cost with the calls it leaves out: "unknown" when no call is priced, else "$x" or
      "$x (+N unpriced)" (`fmt` formats the priced sum). */
  function costText(cost, unpriced, fmt = fmtCost) {
    if (cost === null || cost === undefined || cost === "") return "unknown";
    return fmt(Number(cost)) + (unpriced ? ` (+${unpriced} unpriced)` : "");
  }

  // Series colours are handed out per page, in the order names are first drawn: the theme's
  // eight (--c1…--c8), then each time the colour of a grid of readable ones farthest (CIELAB
  // distance) from every colour handed out so far. Colours from a hash of the name made
  // near-twins of names that look alike (gpt-5 and gpt-5-codex 3° apart); handed out this way,
  // the names shown together stay apart, and a name keeps its colour in every chart and legend.
  const colours = new Map();
  let palette = null; // { theme: hex[], grid: [{ hex, lab, nearest }] }, made on first use
  const hexRgb = (hex) => /^#[0-9a-f]{6}$/i.test(hex) ? [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) : null;
  const rgbHex = (rgb) => "#" + rgb.map((c) => c.toString(16).padStart(2, "0")).join("");
  function hslRgb(h, s, l) {
    const a = s * Math.min(l, 1 - l), k = (n) => (n + h / 30) % 12;
    return [0, 8, 4].map((n) => Math.round(255 * (l - a * Math.max(-1, Math.min(k(n) - 3, 9 - k(n), 1)))));
  }
  function lab(rgb) { // sRGB to CIELAB (D65)
    const [r, g, b] = rgb.map((c) => (c /= 255) <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
    const f = (t) => t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116;
    const x = f((0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047), y = f(0.2126 * r + 0.7152 * g + 0.0722 * b);
    const z = f((0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883);
    return [116 * y - 16, 500 * (x - y), 200 * (y - z)];
  }
  function makePalette() {
    const css = getComputedStyle(document.documentElement);
    const theme = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => css.getPropertyValue(`--c${i}`).trim().toLowerCase()).filter(hexRgb);
    const grid = [];
    for (let h = 0; h < 360; h += 15) for (const s of [0.5, 0.85]) for (const l of [0.34, 0.44, 0.54, 0.64]) {
      const rgb = hslRgb(h, s, l), c = lab(rgb);
      // Mid lightness only: a bar must stand out on the light theme's white and the dark one's near-black.
      if (c[0] >= 35 && c[0] <= 72) grid.push({ hex: rgbHex(rgb), lab: c, nearest: Infinity });
    }
    return { theme, grid };
  }
  function nextColour() {
    palette ||= makePalette();
    const hex = palette.theme.shift() ?? palette.grid.reduce((best, g) => g.nearest > best.nearest ? g : best).hex;
    const picked = lab(hexRgb(hex));
    for (const g of palette.grid) g.nearest = Math.min(g.nearest, Math.hypot(...g.lab.map((v, i) => v - picked[i])));
    return hex;
  }
  function seriesColor(name) {
    const key = String(name ?? "");
    let c = colours.get(key);
    if (!c) colours.set(key, c = nextColour());
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

  window.OmniInsight = { fmtCost, costText, seriesColor, failureBadge, stepsList, overview, svg };
})();
