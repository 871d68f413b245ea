/* Usage: requests, tokens and cost over time by model, provider and agent (inline SVG charts). */
"use strict";
(function () {
  const { el, api } = Omni;
  const SVG = "http://www.w3.org/2000/svg";
  const PERIOD_MS = { day: 864e5, week: 7 * 864e5, month: 30 * 864e5 };
  const $ = (id) => document.getElementById(id);
  const LABEL_W = 120; // bar charts: the labels' column, in the chart's own units
  let analytics = null, logs = [];

  /** Shortens each bar label (with an ellipsis) until it ends before its bar: names differ in width. */
  function fitLabels(box) {
    for (const label of box.querySelectorAll("text.bar-label")) {
      const full = label.textContent;
      for (let n = full.length; n > 1 && label.getComputedTextLength() > LABEL_W - 6; n--) label.textContent = full.slice(0, n - 1) + "…";
    }
  }

  function svg(tag, attrs, ...children) {
    const n = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, String(v));
    for (const c of children) n.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return n;
  }
  const metricOf = (m) => (s) => m === "requests" ? s.requests : m === "tokens" ? (s.tokensIn || 0) + (s.tokensOut || 0) : Number(s.cost || 0);
  const fmtMetric = (m, v) => m === "cost" ? "$" + (v < 0.01 && v > 0 ? v.toPrecision(2) : v.toFixed(2)) : Omni.fmtNum(Math.round(v));
  const fmtUsd = (v) => fmtMetric("cost", v);
  // A group's cost leaves out its calls of no known price: "unknown" when none is priced, else
  // the priced sum and how many calls it leaves out; never a $0 that reads as free.
  const groupText = (m, s, v) => m === "cost" ? OmniInsight.costText(s.cost, s.unpricedCalls, fmtUsd) : fmtMetric(m, v);

  function drawTotals() {
    const t = analytics.totals;
    const stat = (label, value) => el("div", { class: "stat" }, el("b", { text: value }), el("span", { class: "muted", text: label }));
    $("totals").replaceChildren(stat("requests", Omni.fmtNum(t.requests)), stat("errors", Omni.fmtNum(t.errors)),
      stat("tokens in", Omni.fmtNum(t.tokensIn)), stat("tokens out", Omni.fmtNum(t.tokensOut)),
      stat("cached tokens", Omni.fmtNum(t.tokensCached)), stat("cost (USD)", OmniInsight.costText(t.cost, t.unpricedCalls)));
  }

  /** Horizontal bars for one grouping of the analytics API. */
  function barChart(group, metric, dimension) {
    const value = metricOf(metric);
    const entries = Object.entries(group || {}).map(([k, s]) => [k, value(s), s])
      .sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, v, s]) => [k, v, groupText(metric, s, v)]);
    if (!entries.length) return el("p", { class: "muted", text: "No data in this period." });
    const max = Math.max(...entries.map((e) => e[1]), 1e-12), rowH = 22, W = 340, labelW = LABEL_W;
    // Room after the bars for the longest value ("$0.0012 (+3 unpriced)"), about 6 units a character.
    const valueW = Math.max(70, 6 * Math.max(...entries.map((e) => e[2].length)) + 10);
    const chart = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${entries.length * rowH + 4}`, role: "img", "aria-label": `${metric} by group` });
    entries.forEach(([k, v, text], i) => {
      const y = i * rowH + 2, w = Math.max(1, (W - labelW - valueW) * v / max);
      chart.append(svg("text", { class: "bar-label", x: 0, y: y + 14 }, k),
        svg("rect", { x: labelW, y: y + 3, width: w, height: rowH - 8, rx: 2, fill: OmniInsight.seriesColor(k) }, svg("title", {}, `${k}: ${text}`)),
        svg("text", { class: "bar-value", x: labelW + w + 6, y: y + 14 }, text));
    });
    return chart;
  }

  /** Stacked bars over time from the call logs, split by model, provider or agent. */
  function timeline(metric, groupBy, period) {
    const bucketMs = period === "day" ? 36e5 : 864e5;
    const now = Date.now(), start = Math.floor((now - PERIOD_MS[period]) / bucketMs) * bucketMs;
    const n = Math.ceil((now - start) / bucketMs);
    const keyOf = (l) => groupBy === "model" ? (l.modelUsed || l.modelRequested || "?") : groupBy === "provider" ? (l.provider || "none") : (l.agent || l.source || "api");
    const valOf = (l) => metric === "requests" ? 1 : metric === "tokens" ? (l.tokensIn || 0) + (l.tokensOut || 0) : Number(l.cost || 0);
    const buckets = Array.from({ length: n }, () => new Map());
    const totals = new Map();
    // Costs: per bar and per key, the calls of no known price (cost null); per key the priced ones.
    const unpriced = Array.from({ length: n }, () => new Map()), unpricedAll = new Map(), priced = new Map();
    const count = (map, k) => map.set(k, (map.get(k) || 0) + 1);
    for (const l of logs) {
      const i = Math.floor((Date.parse(l.createdAt) - start) / bucketMs);
      if (i < 0 || i >= n) continue;
      const k = keyOf(l), v = valOf(l);
      buckets[i].set(k, (buckets[i].get(k) || 0) + v);
      totals.set(k, (totals.get(k) || 0) + v);
      if (l.cost === null) { count(unpriced[i], k); count(unpricedAll, k); } else count(priced, k);
    }
    const amount = (v, k, i) => metric === "cost" ? OmniInsight.costText(v, unpriced[i].get(k), fmtUsd) : fmtMetric(metric, v);
    const keys = [...totals.keys()].sort((a, b) => totals.get(b) - totals.get(a));
    const color = OmniInsight.seriesColor;  // by name: the same in every chart and legend of the page
    const max = Math.max(1e-12, ...buckets.map((b) => [...b.values()].reduce((a, c) => a + c, 0)));
    const W = 900, H = 230, top = 12, left = 56, bottom = 24, bw = (W - left) / n, plotH = H - bottom - top;
    const chart = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${metric} over time by ${groupBy}` });
    for (const f of [0, 0.5, 1]) {
      const y = top + plotH * (1 - f);
      chart.append(svg("line", { class: "axis", x1: left, x2: W, y1: y, y2: y }), svg("text", { x: 0, y: y + 4 }, fmtMetric(metric, max * f)));
    }
    buckets.forEach((b, i) => {
      let y = H - bottom;
      for (const k of keys) {
        const v = b.get(k);
        if (!v) continue;
        const h = plotH * v / max;
        y -= h;
        chart.append(svg("rect", { x: left + i * bw + 1, y, width: Math.max(1, bw - 2), height: h, fill: color(k) },
          svg("title", {}, `${new Date(start + i * bucketMs).toLocaleString([], { hour12: false })} · ${k}: ${amount(v, k, i)}`)));
      }
      const step = Math.ceil(n / 8);
      if (i % step === 0) {
        const d = new Date(start + i * bucketMs);
        chart.append(svg("text", { x: left + i * bw, y: H - 6 }, period === "day" ? `${String(d.getHours()).padStart(2, "0")}:00` : `${d.getMonth() + 1}/${d.getDate()}`));
      }
    });
    // In parentheses after the name, so an unpriced count follows a comma: "gpt-5 ($0.12, +3 unpriced)".
    const legendAmount = (k) => metric !== "cost" ? fmtMetric(metric, totals.get(k)) : !priced.get(k) ? "unknown"
      : fmtUsd(totals.get(k)) + (unpricedAll.get(k) ? `, +${unpricedAll.get(k)} unpriced` : "");
    $("timeline-legend").replaceChildren(...keys.slice(0, 16).map((k) => el("span", { dataset: { series: k } }, el("i", { style: `background:${color(k)}` }), `${k} (${legendAmount(k)})`)));
    return logs.length ? chart : el("p", { class: "muted", text: "No calls in this period yet." });
  }

  function drawRecent() {
    const rows = logs.slice(0, 50);
    $("recent").replaceChildren(!rows.length ? el("p", { class: "muted", text: "No calls yet." }) : el("table", { class: "list" },
      el("thead", {}, el("tr", {}, ["Time", "Agent / client", "Model", "Provider", "Status", "Tokens in/out", "Cost", "Latency"].map((h) => el("th", { text: h })))),
      el("tbody", {}, rows.map((l) => el("tr", {}, el("td", { text: Omni.fmtDateTime(l.createdAt) }), el("td", { text: l.agent || l.source || "" }),
        el("td", { text: l.modelRequested === l.modelUsed || !l.modelUsed ? (l.modelRequested || "") : `${l.modelRequested} → ${l.modelUsed}` }),
        el("td", { text: l.provider || "" }), el("td", { text: String(l.status), title: l.error || "" }),
        el("td", { class: "num", text: `${l.tokensIn}/${l.tokensOut}` }), el("td", { class: "num cost" + (l.cost === null ? " unknown" : ""), text: OmniInsight.fmtCost(l.cost) }), el("td", { class: "num", text: Omni.fmtMs(l.latencyMs) }))))));
  }

  function draw() {
    const metric = $("metric").value, groupBy = $("groupby").value, period = $("period").value;
    drawTotals();
    $("timeline-title").textContent = `${metric[0].toUpperCase() + metric.slice(1)} over time by ${groupBy}`;
    $("timeline").replaceChildren(timeline(metric, groupBy, period));
    $("by-model").replaceChildren(barChart(analytics.byModel, metric, "model"));
    $("by-provider").replaceChildren(barChart(analytics.byProvider, metric, "provider"));
    $("by-agent").replaceChildren(barChart(analytics.byAgent, metric, "agent"));
    for (const id of ["by-model", "by-provider", "by-agent"]) fitLabels($(id));
    drawRecent();
  }

  async function load() {
    const period = $("period").value;
    const a = await api("GET", `/api/usage/analytics?period=${period}`);
    if (!a.ok) { $("totals").replaceChildren(el("p", { class: "form-error", text: a.error.message })); return; }
    analytics = a.data;
    const since = Date.parse(analytics.since);
    logs = [];
    for (let offset = 0; offset < 10000; offset += 1000) {
      const r = await api("GET", `/api/usage/call-logs?limit=1000&offset=${offset}`);
      if (!r.ok) break;
      logs.push(...r.data.items);
      const last = r.data.items[r.data.items.length - 1];
      if (r.data.items.length < 1000 || (last && Date.parse(last.createdAt) < since)) break;
    }
    draw();
  }
  $("period").addEventListener("change", load);
  $("usage-refresh").addEventListener("click", load);
  $("metric").addEventListener("change", draw);
  $("groupby").addEventListener("change", draw);
  load().then(() => { document.body.dataset.ready = "true"; });
})();
