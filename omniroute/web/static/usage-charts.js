/* Usage charts from GET /api/usage/charts (summed by the database): tokens and cost over time
   split by model, agent or provider; requests and errors; latency percentiles; top errors.
   Every series has the colour of its name (OmniInsight.seriesColor), in the bars and the legend. */
"use strict";
(function () {
  const { el, api } = Omni;
  const { fmtCost, seriesColor, svg } = OmniInsight;
  const $ = (id) => document.getElementById(id);

  const fmtTokens = (v) => Omni.fmtNum(Math.round(v));
  const fmtUsd = (v) => (v > 0 && v < 0.01 ? "$" + v.toPrecision(2) : "$" + v.toFixed(2));

  function buckets(data) {
    const start = Math.floor(Date.parse(data.since) / 1000), end = Math.floor(Date.parse(data.until) / 1000);
    const out = [];
    for (let b = start; b <= end; b += data.bucketSeconds) out.push(b);
    return out;
  }
  function label(b, step) {
    const d = new Date(b * 1000);
    return step < 86400 ? `${String(d.getHours()).padStart(2, "0")}:00` : `${d.getMonth() + 1}/${d.getDate()}`;
  }

  /** Stacked bars: one bar per bucket, one segment per series name, coloured by name. */
  function stacked(data, valueOf, fmt, legendBox, what) {
    const times = buckets(data), index = new Map(times.map((b, i) => [b, i]));
    const cells = times.map(() => new Map()), totals = new Map();
    for (const p of data.series) {
      const i = index.get(p.bucket), v = valueOf(p);
      if (i === undefined || !v) continue;
      cells[i].set(p.name, (cells[i].get(p.name) || 0) + v);
      totals.set(p.name, (totals.get(p.name) || 0) + v);
    }
    const names = [...totals.keys()].sort((a, b) => totals.get(b) - totals.get(a));
    legendBox.replaceChildren(...names.map((k) => el("span", { dataset: { series: k } },
      el("i", { style: `background:${seriesColor(k)}`, dataset: { color: seriesColor(k) } }), `${k} (${fmt(totals.get(k))})`)));
    if (!names.length) return el("p", { class: "muted", text: `No ${what} in this period.` });
    const max = Math.max(1e-12, ...cells.map((m) => [...m.values()].reduce((a, c) => a + c, 0)));
    const W = 600, H = 200, top = 10, left = 58, bottom = 22, plotH = H - top - bottom, bw = (W - left) / times.length;
    const chart = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${what} over time by ${data.by}` });
    for (const f of [0, 0.5, 1]) {
      const y = top + plotH * (1 - f);
      chart.append(svg("line", { class: "axis", x1: left, x2: W, y1: y, y2: y }), svg("text", { x: 0, y: y + 4 }, fmt(max * f)));
    }
    const step = Math.ceil(times.length / 8);
    cells.forEach((m, i) => {
      let y = H - bottom;
      for (const k of names) {
        const v = m.get(k);
        if (!v) continue;
        const h = plotH * v / max;
        y -= h;
        chart.append(svg("rect", { class: "bar", x: left + i * bw + 1, y, width: Math.max(1, bw - 2), height: h, fill: seriesColor(k), "data-series": k },
          svg("title", {}, `${new Date(times[i] * 1000).toLocaleString([], { hour12: false })} · ${k}: ${fmt(v)}`)));
      }
      if (i % step === 0) chart.append(svg("text", { x: left + i * bw, y: H - 6 }, label(times[i], data.bucketSeconds)));
    });
    return chart;
  }

  function requestsAndErrors(data) {
    const times = buckets(data), index = new Map(times.map((b, i) => [b, i]));
    const ok = times.map(() => 0), bad = times.map(() => 0);
    for (const p of data.series) {
      const i = index.get(p.bucket);
      if (i === undefined) continue;
      ok[i] += p.requests - p.errors; bad[i] += p.errors;
    }
    if (!ok.some(Boolean) && !bad.some(Boolean)) return el("p", { class: "muted", text: "No calls in this period." });
    const max = Math.max(1, ...ok.map((v, i) => v + bad[i]));
    const W = 600, H = 160, top = 10, left = 40, bottom = 22, plotH = H - top - bottom, bw = (W - left) / times.length;
    const chart = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "requests and errors over time" });
    chart.append(svg("text", { x: 0, y: top + 4 }, String(max)), svg("line", { class: "axis", x1: left, x2: W, y1: top, y2: top }));
    times.forEach((b, i) => {
      const hOk = plotH * ok[i] / max, hBad = plotH * bad[i] / max, x = left + i * bw + 1, w = Math.max(1, bw - 2);
      if (ok[i]) chart.append(svg("rect", { x, y: H - bottom - hOk, width: w, height: hOk, fill: "var(--ok)" }, svg("title", {}, `${ok[i]} answered`)));
      if (bad[i]) chart.append(svg("rect", { class: "error-bar", x, y: H - bottom - hOk - hBad, width: w, height: hBad, fill: "var(--err)" }, svg("title", {}, `${bad[i]} failed`)));
    });
    return chart;
  }

  function latency(data) {
    if (!data.latency.length) return el("p", { class: "muted", text: "No answered calls in this period." });
    const max = Math.max(...data.latency.map((r) => r.p99), 1);
    return el("table", { class: "list latency-table" },
      el("thead", {}, el("tr", {}, el("th", { text: data.by }), el("th", { class: "num", text: "calls" }),
        el("th", { class: "num", text: "p50" }), el("th", { class: "num", text: "p90" }), el("th", { class: "num", text: "p99" }), el("th", { text: "" }))),
      el("tbody", {}, data.latency.map((r) => el("tr", { dataset: { series: r.name } },
        el("td", {}, el("span", { class: "model-chip" }, el("i", { style: `background:${seriesColor(r.name)}` }), r.name)),
        el("td", { class: "num", text: String(r.n) }), el("td", { class: "num", text: Omni.fmtMs(r.p50) }),
        el("td", { class: "num", text: Omni.fmtMs(r.p90) }), el("td", { class: "num", text: Omni.fmtMs(r.p99) }),
        el("td", {}, (() => {
          const s = svg("svg", { class: "chart", viewBox: "0 0 160 12", width: "160", height: "12", role: "img", "aria-label": `p50 ${r.p50} ms, p99 ${r.p99} ms` });
          s.append(svg("rect", { x: 0, y: 4, width: 160 * r.p99 / max, height: 4, fill: seriesColor(r.name), opacity: 0.35 }),
            svg("rect", { x: 0, y: 2, width: Math.max(1, 160 * r.p50 / max), height: 8, fill: seriesColor(r.name) }));
          return s;
        })())))));
  }

  function topErrors(data) {
    if (!data.errors.length) return el("p", { class: "muted", text: "No failed calls in this period." });
    return el("table", { class: "list" },
      el("thead", {}, el("tr", {}, ["Status", "Error", "Calls", "Last"].map((h) => el("th", { text: h })))),
      el("tbody", {}, data.errors.map((e) => el("tr", {}, el("td", { class: "st-e", text: String(e.status) }),
        el("td", { text: e.error || "" }), el("td", { class: "num", text: String(e.count) }), el("td", { text: Omni.fmtDateTime(e.last) })))));
  }

  async function load() {
    const period = $("period").value, by = $("groupby").value;
    const res = await api("GET", `/api/usage/charts?period=${period}&by=${by}`);
    if (!res.ok) { $("chart-tokens").replaceChildren(el("p", { class: "form-error", text: res.error.message })); return; }
    const data = res.data;
    const unpriced = data.series.reduce((a, p) => a + p.unpriced, 0);
    $("chart-tokens-title").textContent = `Tokens over time by ${by}`;
    $("chart-cost-title").textContent = `Cost over time by ${by}` + (unpriced ? ` (${unpriced} call${unpriced === 1 ? "" : "s"} of unknown price not included)` : "");
    $("chart-latency-title").textContent = `Latency percentiles by ${by}`;
    $("chart-tokens").replaceChildren(stacked(data, (p) => p.tokensIn + p.tokensOut, fmtTokens, $("chart-tokens-legend"), "tokens"));
    $("chart-cost").replaceChildren(stacked(data, (p) => p.cost, fmtUsd, $("chart-cost-legend"), "cost"));
    $("chart-errors").replaceChildren(requestsAndErrors(data));
    $("chart-latency").replaceChildren(latency(data));
    $("chart-top-errors").replaceChildren(topErrors(data));
    document.querySelector(".insight-charts").dataset.ready = "true";
  }
  for (const id of ["period", "groupby"]) $(id).addEventListener("change", load);
  $("usage-refresh").addEventListener("click", load);
  load();
  window.UsageCharts = { load, fmtCost };
})();
