/* Routing page: provider connections (create, edit, test, models), aliases, resilience.
   Combos and fallback chains live in routing-combos.js. */
"use strict";
(function () {
  const { el, api } = Omni;
  let connections = [], editing = null;
  const pForm = document.getElementById("provider-form");

  // ---- providers ----
  async function loadConnections() {
    const r = await api("GET", "/api/providers");
    connections = r.ok ? r.data.connections : [];
    const box = document.getElementById("providers");
    if (!r.ok) { box.replaceChildren(el("p", { class: "form-error", text: r.error.message })); return; }
    if (!connections.length) { box.replaceChildren(el("p", { class: "muted", text: "No provider connections yet: add one to route models to it." })); return; }
    const status = (s) => el("span", { class: "badge " + (s === "active" ? "ok" : s === "error" ? "err" : ""), text: s });
    box.replaceChildren(el("table", { class: "list" },
      el("thead", {}, el("tr", {}, ["Name", "Type", "URL", "Key", "Priority", "Active", "Test", ""].map((h) => el("th", { text: h })))),
      el("tbody", {}, connections.map((c) => el("tr", { dataset: { connection: c.name } },
        el("td", {}, el("code", { text: c.name })), el("td", { text: c.provider }), el("td", { class: "small", text: c.url }),
        el("td", { class: "mono small", text: c.keyPreview || "—" }), el("td", { class: "num", text: String(c.priority) }),
        el("td", { text: c.isActive ? "yes" : "no" }), el("td", { class: "test-cell" }, status(c.testStatus)),
        el("td", { class: "inline" },
          el("button", { type: "button", class: "ghost", text: "Test", onclick: (ev) => testConnection(c, ev.target.closest("tr")) }),
          el("button", { type: "button", class: "ghost", text: "Models", onclick: () => showModels(c) }),
          ...(c.fromConfig ? [Omni.fromFile()] : [
            el("button", { type: "button", class: "ghost", text: "Edit", onclick: () => openProvider(c) }),
            el("button", { type: "button", class: "danger", text: "Delete", onclick: async () => {
              if (!confirm(`Delete connection ${c.name}?`)) return;
              const d = await api("DELETE", `/api/providers/${c.id}`);
              Omni.toast(d.ok ? "Connection deleted" : d.error.message, !d.ok); refreshConnections();
            } })])))))));
  }
  async function refreshConnections() {
    await loadConnections();
    RoutingCombos.setConnections(connections);
  }
  async function testConnection(c, row) {
    const cell = row.querySelector(".test-cell");
    cell.replaceChildren(el("span", { class: "muted", text: "testing…" }));
    const r = await api("POST", `/api/providers/${c.id}/test`);
    if (!r.ok) { cell.replaceChildren(el("span", { class: "badge err", text: r.error.message })); return; }
    cell.replaceChildren(el("span", { class: "badge " + (r.data.ok ? "ok" : "err"), title: r.data.error || "",
      text: r.data.ok ? `ok ${Omni.fmtMs(r.data.latencyMs)}` : (r.data.error || "failed") }));
  }
  async function showModels(c) {
    const box = document.getElementById("provider-models");
    box.replaceChildren(el("p", { class: "muted", text: `listing models of ${c.name}…` }));
    const r = await api("GET", `/api/providers/${c.id}/models`);
    if (!r.ok) { box.replaceChildren(el("p", { class: "form-error", text: `${c.name}: ${r.error.message}` })); return; }
    box.replaceChildren(el("h3", { text: `Models of ${c.name} (route as ${c.name}/<model>)` }),
      el("div", { class: "inline" }, r.data.models.length ? r.data.models.map((m) => el("code", { class: "badge", text: `${c.name}/${m}` })) : el("span", { class: "muted", text: "(none listed)" })));
  }
  const CLOUD = ["region", "project", "apiVersion", "accessKeyId", "sessionToken", "tenantId", "clientId", "authorityUrl"];
  let typeInfo = {};
  function showTypeFields() {
    // Only the settings the selected type takes; its default URL, key meaning and models as hints.
    const type = pForm.elements.provider.value, info = typeInfo[type] || {};
    for (const name of CLOUD) pForm.querySelector(`[data-field="${name}"]`).hidden = !(info.fields || []).includes(name);
    pForm.elements.url.placeholder = info.defaultUrl || (type === "azure" ? "https://<resource>.openai.azure.com" : "default for the type");
    const hints = [];
    if (info.keyLabel) hints.push(`API key: ${info.keyLabel}.`);
    if ((info.models || []).length) hints.push(`Models: ${info.models.join(", ")}.`);
    document.getElementById("provider-type-hint").textContent = hints.join(" ");
  }
  function openProvider(c) {
    editing = c;
    pForm.hidden = false;
    Omni.clearErrors(pForm);
    document.getElementById("provider-form-title").textContent = c ? `Edit ${c.name}` : "New connection";
    const f = pForm.elements;
    f.provider.value = c ? c.provider : f.provider.value; f.provider.disabled = !!c;
    f.name.value = c ? c.name : ""; f.url.value = c ? c.url : ""; f.apiKey.value = "";
    f.apiKey.placeholder = c ? (c.keyPreview ? `${c.keyPreview} (unchanged)` : "(none)") : "optional";
    f.priority.value = c ? c.priority : 0; f.maxConcurrent.value = c && c.maxConcurrent !== null ? c.maxConcurrent : "";
    f.isActive.checked = c ? c.isActive : true;
    for (const name of CLOUD) f[name].value = c && c[name] && name !== "sessionToken" ? c[name] : "";
    showTypeFields();
    f.name.focus();
  }
  pForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = pForm.elements;
    const body = { isActive: f.isActive.checked, priority: Number(f.priority.value || 0) };
    if (f.name.value.trim()) body.name = f.name.value.trim();
    if (f.url.value.trim()) body.url = f.url.value.trim();
    if (f.apiKey.value) body.apiKey = f.apiKey.value;
    if (f.maxConcurrent.value !== "") body.maxConcurrent = Number(f.maxConcurrent.value);
    else if (editing) body.maxConcurrent = null;
    if (!editing) body.provider = f.provider.value;
    const fields = (typeInfo[editing ? editing.provider : f.provider.value] || {}).fields || [];
    for (const name of fields) {
      const value = f[name].value.trim();
      if (value) body[name] = value;
      else if (editing && name !== "sessionToken" && editing[name]) body[name] = null;
    }
    const r = editing ? await api("PATCH", `/api/providers/${editing.id}`, body) : await api("POST", "/api/providers", body);
    if (!r.ok) { Omni.showErrors(pForm, r.error); return; }
    Omni.toast(`Connection ${r.data.name} saved`);
    pForm.hidden = true; editing = null; refreshConnections();
  });
  document.getElementById("provider-new").addEventListener("click", () => openProvider(null));
  document.getElementById("provider-cancel").addEventListener("click", () => { pForm.hidden = true; editing = null; });

  // ---- aliases ----
  const aForm = document.getElementById("alias-form");
  async function drawAliases() {
    const r = await api("GET", "/api/models/alias");
    const box = document.getElementById("aliases");
    if (!r.ok) { box.replaceChildren(el("p", { class: "form-error", text: r.error.message })); return; }
    box.replaceChildren(!r.data.aliases.length ? el("p", { class: "muted", text: "No aliases yet." }) : el("table", { class: "list" },
      el("thead", {}, el("tr", {}, ["Alias", "Target", ""].map((h) => el("th", { text: h })))),
      el("tbody", {}, r.data.aliases.map((a) => el("tr", {}, el("td", {}, el("code", { text: a.alias })), el("td", { text: a.target }),
        el("td", {}, a.fromConfig ? Omni.fromFile() : el("button", { type: "button", class: "danger", text: "Delete", onclick: async () => {
          const d = await api("DELETE", `/api/models/alias/${encodeURIComponent(a.alias)}`);
          Omni.toast(d.ok ? "Alias deleted" : d.error.message, !d.ok); drawAliases();
        } })))))));
  }
  aForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const r = await api("POST", "/api/models/alias", Omni.formData(aForm));
    if (!r.ok) { Omni.showErrors(aForm, r.error); return; }
    Omni.clearErrors(aForm); aForm.reset(); Omni.toast(`Alias ${r.data.alias} → ${r.data.target} saved`); drawAliases();
  });

  // ---- resilience ----
  async function drawResilience() {
    const r = await api("GET", "/api/resilience");
    const box = document.getElementById("resilience");
    if (!r.ok) { box.replaceChildren(el("p", { class: "form-error", text: r.error.message })); return; }
    const s = r.data;
    const name = (id) => (connections.find((c) => c.id === id) || { name: id }).name;
    const reset = (body, label) => el("button", { type: "button", class: "ghost", text: label || "Reset", onclick: async () => {
      const d = await api("POST", "/api/resilience/reset", body);
      Omni.toast(d.ok ? "Reset done" : d.error.message, !d.ok); drawResilience();
    } });
    const conns = (s.connections || []).map((c) => el("tr", {}, el("td", { text: name(c.connectionId) }), el("td", { text: c.provider }),
      el("td", {}, el("span", { class: "badge " + (c.status === "active" ? "ok" : "warn"), text: c.status })),
      el("td", { class: "num", text: `${c.successes}/${c.failures}` }), el("td", { class: "num", text: Omni.fmtMs(c.latencyMs) }),
      el("td", { class: "num", text: c.remainingMs ? Omni.fmtMs(c.remainingMs) : "—" }), el("td", { text: c.lastErrorType || "" }),
      el("td", {}, reset({ scope: "cooldowns", connectionId: c.connectionId }))));
    const breakers = (s.breakers || []).map((b) => el("li", {}, `${b.provider || b.name || JSON.stringify(b)}: ${b.state || ""} `, reset({ scope: "breakers", provider: b.provider })));
    const lockouts = (s.modelLockouts || []).map((l) => el("li", {}, `${l.model || JSON.stringify(l)} ${l.remainingMs ? "(" + Omni.fmtMs(l.remainingMs) + ")" : ""} `, reset({ scope: "lockouts", model: l.model })));
    box.replaceChildren(
      el("h3", { text: "Connections" }),
      conns.length ? el("table", { class: "list" }, el("thead", {}, el("tr", {}, ["Connection", "Provider", "State", "OK/failed", "Latency", "Cooldown left", "Last error", ""].map((h) => el("th", { text: h })))), el("tbody", {}, conns))
        : el("p", { class: "muted", text: "No traffic yet." }),
      el("h3", { text: "Provider breakers" }), breakers.length ? el("ul", {}, breakers) : el("p", { class: "muted", text: "All breakers closed." }),
      el("h3", { text: "Model lockouts" }), lockouts.length ? el("ul", {}, lockouts) : el("p", { class: "muted", text: "No models locked out." }),
      el("details", {}, el("summary", { text: "Profiles (breaker, cooldown, lockout settings)" }),
        el("pre", { text: JSON.stringify({ providerBreaker: s.providerBreaker, connectionCooldown: s.connectionCooldown, modelLockout: s.modelLockout, providerProfiles: s.providerProfiles }, null, 2) })));
  }
  document.getElementById("resilience-refresh").addEventListener("click", drawResilience);
  document.getElementById("resilience-reset").addEventListener("click", async () => {
    const d = await api("POST", "/api/resilience/reset", { scope: "all" });
    Omni.toast(d.ok ? `Reset: ${JSON.stringify(d.data.cleared)}` : d.error.message, !d.ok); drawResilience();
  });

  async function init() {
    const cfg = await Omni.config();
    pForm.elements.provider.replaceChildren(...(cfg.providerTypes || []).map((p) => el("option", { value: p, text: p })));
    typeInfo = cfg.providerTypeInfo || {};
    pForm.elements.provider.addEventListener("change", showTypeFields);
    showTypeFields();
    await loadConnections();
    await Promise.all([RoutingCombos.init(connections, cfg.strategies || ["priority"]), drawAliases(), drawResilience()]);
    document.body.dataset.ready = "true";
  }
  init();
})();
