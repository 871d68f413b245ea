/* Routing page: combos (strategy, weighted nodes, drag to reorder) and fallback chains. */
"use strict";
(function () {
  const { el, api } = Omni;
  let connections = [], strategies = [], editing = null;

  /** Rows in `box` can be reordered by dragging their handle or with the ↑/↓ buttons. */
  function makeSortable(box, renumber) {
    let dragged = null;
    box.addEventListener("dragstart", (ev) => {
      dragged = ev.target.closest(".row");
      if (!dragged) return;
      dragged.classList.add("dragging");
      ev.dataTransfer.effectAllowed = "move";
      ev.dataTransfer.setData("text/plain", "row");
    });
    box.addEventListener("dragover", (ev) => {
      const over = ev.target.closest(".row");
      if (!dragged || !over || over === dragged) return;
      ev.preventDefault();
      const after = ev.clientY > over.getBoundingClientRect().top + over.offsetHeight / 2;
      if (after) over.after(dragged); else over.before(dragged);
    });
    box.addEventListener("dragend", () => { if (dragged) dragged.classList.remove("dragging"); dragged = null; renumber(); });
  }
  function moveButtons(row, renumber) {
    return [
      el("button", { type: "button", class: "ghost", title: "Move up", "aria-label": "Move up", text: "↑", onclick: () => { if (row.previousElementSibling) row.previousElementSibling.before(row); renumber(); } }),
      el("button", { type: "button", class: "ghost", title: "Move down", "aria-label": "Move down", text: "↓", onclick: () => { if (row.nextElementSibling) row.nextElementSibling.after(row); renumber(); } }),
      el("button", { type: "button", class: "ghost", title: "Remove", "aria-label": "Remove", text: "✕", onclick: () => { row.remove(); renumber(); } }),
    ];
  }
  function connectionSelect(name, value) {
    const select = el("select", { name }, el("option", { value: "", text: "— connection —" }),
      ...connections.map((c) => el("option", { value: c.id, text: `${c.name} (${c.provider})` })));
    const hit = connections.find((c) => c.id === value || c.name === value);
    select.value = hit ? hit.id : "";
    return select;
  }

  // ---- combos ----
  const cForm = document.getElementById("combo-form");
  const nodesBox = document.getElementById("combo-nodes");
  function renumberNodes() {
    [...nodesBox.children].forEach((row, i) => {
      const [c, m, w] = row.querySelectorAll("label");
      c.dataset.field = `nodes.${i}.connectionId`; m.dataset.field = `nodes.${i}.model`; w.dataset.field = `nodes.${i}.weight`;
      row.querySelector(".prio").textContent = `#${i + 1}`;
    });
  }
  function nodeRow(node) {
    const row = el("div", { class: "row node-row", draggable: "true" },
      el("span", { class: "handle", title: "Drag to reorder", text: "⠿" }), el("span", { class: "prio muted" }),
      el("label", {}, "Connection", connectionSelect("connectionId", node.connectionId)),
      el("label", {}, "Model (optional)", el("input", { name: "node-model", value: node.model || "", placeholder: "combo's model", size: "18" })),
      el("label", {}, "Weight", el("input", { name: "weight", type: "number", min: "0", value: node.weight ?? 1, style: "width:5em" })));
    row.append(...moveButtons(row, renumberNodes));
    nodesBox.append(row);
    renumberNodes();
  }
  function openCombo(combo) {
    editing = combo;
    cForm.hidden = false;
    Omni.clearErrors(cForm);
    document.getElementById("combo-form-title").textContent = combo ? `Edit combo ${combo.name}` : "New combo";
    cForm.elements.name.value = combo ? combo.name : "";
    cForm.elements.model.value = combo ? combo.model : "";
    cForm.elements.strategy.value = combo ? combo.strategy : "priority";
    nodesBox.replaceChildren();
    const nodes = combo ? [...combo.nodes].sort((a, b) => (a.priority ?? 0) - (b.priority ?? 0)) : [{}];
    nodes.forEach(nodeRow);
    cForm.elements.name.focus();
  }
  async function drawCombos() {
    const r = await api("GET", "/api/combos");
    const box = document.getElementById("combos");
    if (!r.ok) { box.replaceChildren(el("p", { class: "form-error", text: r.error.message })); return; }
    const name = (id) => (connections.find((c) => c.id === id) || { name: id }).name;
    if (!r.data.combos.length) { box.replaceChildren(el("p", { class: "muted", text: "No combos yet." })); return; }
    box.replaceChildren(el("table", { class: "list" },
      el("thead", {}, el("tr", {}, ["Name", "Model", "Strategy", "Nodes (priority order)", ""].map((h) => el("th", { text: h })))),
      el("tbody", {}, r.data.combos.map((c) => el("tr", { dataset: { combo: c.name } },
        el("td", {}, el("code", { text: c.name })), el("td", { text: c.model }), el("td", {}, el("span", { class: "badge", text: c.strategy })),
        el("td", { text: c.nodes.map((n) => `${name(n.connectionId)}${n.model ? "/" + n.model : ""} ×${n.weight ?? 1}`).join(" → ") }),
        el("td", { class: "inline" }, ...(c.fromConfig ? [Omni.fromFile()] : [
          el("button", { type: "button", class: "ghost", text: "Edit", onclick: () => openCombo(c) }),
          el("button", { type: "button", class: "danger", text: "Delete", onclick: async () => {
            if (!confirm(`Delete combo ${c.name}?`)) return;
            const d = await api("DELETE", `/api/combos/${encodeURIComponent(c.id)}`);
            Omni.toast(d.ok ? "Combo deleted" : d.error.message, !d.ok); drawCombos();
          } })])))))));
  }
  cForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const nodes = [...nodesBox.children].map((row, i) => {
      const node = { connectionId: row.querySelector("[name=connectionId]").value, weight: Number(row.querySelector("[name=weight]").value || 0), priority: i };
      const model = row.querySelector("[name=node-model]").value.trim();
      if (model) node.model = model;
      return node;
    });
    const body = { name: cForm.elements.name.value.trim(), model: cForm.elements.model.value.trim(), strategy: cForm.elements.strategy.value, nodes };
    const r = editing ? await api("PATCH", `/api/combos/${encodeURIComponent(editing.id)}`, body) : await api("POST", "/api/combos", body);
    if (!r.ok) { Omni.showErrors(cForm, r.error); return; }
    Omni.toast(`Combo ${r.data.name} saved: ask for model “${r.data.name}”`);
    cForm.hidden = true; editing = null; drawCombos();
  });
  document.getElementById("combo-new").addEventListener("click", () => openCombo(null));
  document.getElementById("combo-cancel").addEventListener("click", () => { cForm.hidden = true; editing = null; });
  document.getElementById("combo-node-add").addEventListener("click", () => nodeRow({}));
  makeSortable(nodesBox, renumberNodes);

  // ---- fallback chains ----
  const chForm = document.getElementById("chain-form");
  const stepsBox = document.getElementById("chain-steps");
  function renumberSteps() {
    [...stepsBox.children].forEach((row, i) => {
      const [p, m, e] = row.querySelectorAll("label");
      p.dataset.field = `chain.${i}.provider`; m.dataset.field = `chain.${i}.model`; e.dataset.field = `chain.${i}.enabled`;
      row.querySelector(".prio").textContent = `#${i + 1}`;
    });
  }
  function stepRow(step) {
    const row = el("div", { class: "row step-row", draggable: "true" },
      el("span", { class: "handle", title: "Drag to reorder", text: "⠿" }), el("span", { class: "prio muted" }),
      el("label", {}, "Connection", connectionSelect("provider", step.provider)),
      el("label", {}, "Model (optional)", el("input", { name: "step-model", value: step.model || "", placeholder: "chain's model", size: "18" })),
      el("label", { class: "inline" }, el("input", { name: "enabled", type: "checkbox", checked: step.enabled !== false }), "enabled"));
    row.append(...moveButtons(row, renumberSteps));
    stepsBox.append(row);
    renumberSteps();
  }
  async function drawChains() {
    const r = await api("GET", "/api/fallback/chains");
    const box = document.getElementById("chains");
    if (!r.ok) { box.replaceChildren(el("p", { class: "form-error", text: r.error.message })); return; }
    const name = (id) => (connections.find((c) => c.id === id || c.name === id) || { name: id }).name;
    box.replaceChildren(!r.data.chains.length ? el("p", { class: "muted", text: "No fallback chains yet." }) : el("table", { class: "list" },
      el("thead", {}, el("tr", {}, ["Model", "Chain", ""].map((h) => el("th", { text: h })))),
      el("tbody", {}, r.data.chains.map((c) => el("tr", {}, el("td", {}, el("code", { text: c.model })),
        el("td", { text: c.chain.map((s) => `${name(s.provider)}${s.model ? "/" + s.model : ""}${s.enabled === false ? " (off)" : ""}`).join(" → ") }),
        el("td", { class: "inline" }, ...(c.fromConfig ? [Omni.fromFile()] : [
          el("button", { type: "button", class: "ghost", text: "Edit", onclick: () => { chForm.elements.model.value = c.model; stepsBox.replaceChildren(); c.chain.forEach(stepRow); } }),
          el("button", { type: "button", class: "danger", text: "Delete", onclick: async () => {
            const d = await api("DELETE", "/api/fallback/chains", { model: c.model });
            Omni.toast(d.ok ? "Chain deleted" : d.error.message, !d.ok); drawChains();
          } })])))))));
  }
  chForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const chain = [...stepsBox.children].map((row, i) => {
      const step = { provider: row.querySelector("[name=provider]").value, enabled: row.querySelector("[name=enabled]").checked, priority: i };
      const model = row.querySelector("[name=step-model]").value.trim();
      if (model) step.model = model;
      return step;
    });
    const r = await api("POST", "/api/fallback/chains", { model: chForm.elements.model.value.trim(), chain });
    if (!r.ok) { Omni.showErrors(chForm, r.error); return; }
    Omni.clearErrors(chForm); Omni.toast(`Chain for ${r.data.model} saved`); drawChains();
  });
  document.getElementById("chain-step-add").addEventListener("click", () => stepRow({}));
  makeSortable(stepsBox, renumberSteps);

  async function init(conns, strategyList) {
    connections = conns; strategies = strategyList;
    cForm.elements.strategy.replaceChildren(...strategies.map((s) => el("option", { value: s, text: s })));
    if (!stepsBox.children.length) stepRow({});
    await Promise.all([drawCombos(), drawChains()]);
  }
  window.RoutingCombos = { init, setConnections: (c) => { connections = c; drawCombos(); drawChains(); } };
})();
