/* Agents: routable state, DNS toggles, listeners, mappings editor, env snippet, CA, bypass, upstream CA. */
"use strict";
(function () {
  const { el, api } = Omni;
  const BASE = "/api/tools/agent-bridge";
  let cfg = {}, agents = [];

  const TRUST = [
    ["macOS (System keychain)", 'sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain "$CERT"', "sh certs/trust-macos.sh trust \"$CERT\""],
    ["Debian / Ubuntu", 'sudo cp "$CERT" /usr/local/share/ca-certificates/omniroute-ca.crt && sudo update-ca-certificates', "sh certs/trust-debian.sh trust \"$CERT\""],
    ["Fedora / RHEL", 'sudo cp "$CERT" /etc/pki/ca-trust/source/anchors/omniroute-ca.pem && sudo update-ca-trust', "sh certs/trust-fedora.sh trust \"$CERT\""],
    ["Windows (elevated PowerShell)", "certutil -addstore -f Root omniroute-ca.cer", ".\\certs\\trust-windows.ps1 trust <path-to>\\mitmproxy-ca-cert.cer"],
    ["Firefox / Chromium on Linux (NSS)", 'certutil -d sql:$HOME/.pki/nssdb -A -t "C,," -n OmniRoute -i "$CERT"', "sh certs/trust-nss.sh trust \"$CERT\""],
  ];

  // ---- listeners and server state ----
  /** Why a DNS-mode listener button cannot act now (null: it can), from the listener's state. */
  function dnsButtonBlocked(listener) {
    return (action) => {
      if (!listener || listener.state === "disabled") return "the DNS-mode listener is disabled (port 0): restart OmniRoute with --bridge-port PORT";
      if (action === "start" && listener.state === "running") return "the DNS-mode listener is already running";
      if (action === "stop" && listener.state !== "running") return "the DNS-mode listener is not running";
      return null;
    };
  }
  async function drawListeners() {
    const health = await api("GET", "/health");
    const box = document.getElementById("listeners");
    const listeners = health.ok ? health.data.listeners : cfg.listeners || [];
    box.replaceChildren(...listeners.map((l) => el("span", { class: "badge " + (l.state === "running" ? "ok" : l.state === "disabled" ? "" : "err"),
      title: l.error || "", text: `${l.name} :${l.port || "—"} ${l.state}` })));
    if (await Omni.has("GET", `${BASE}/state`)) {
      const st = await api("GET", `${BASE}/state`);
      if (st.ok) {
        const s = st.data;
        const proxy = s.httpProxy ? ` · HTTP proxy ${s.httpProxy.running ? "running" : "stopped"} on :${s.httpProxy.port ?? "—"}` : "";
        document.getElementById("bridge-state").textContent =
          `DNS-mode listener ${s.running ? "running" : "stopped"} on :${s.port ?? "—"}${proxy} · CA ${s.certReady ? "ready" : "missing"} · ${s.interceptedCount ?? 0} intercepted` +
          (s.lastError ? ` · last error: ${s.lastError}` : "");
      }
    }
    const actions = document.getElementById("server-actions");
    if (await Omni.has("POST", `${BASE}/server`)) {
      const why = dnsButtonBlocked(listeners.find((l) => l.name === "agent-bridge"));
      actions.replaceChildren(...["start", "stop", "restart"].map((action) => el("button", { type: "button", class: "ghost", text: `${action} DNS-mode listener`,
        disabled: !!why(action), title: why(action),
        onclick: async () => {
          const r = await api("POST", `${BASE}/server`, { action });
          Omni.toast(r.ok ? `listener: ${action} done` : r.error.message, !r.ok);
          drawListeners();
        } })));
    }
  }

  // ---- agent cards ----
  async function drawAgents() {
    const dnsRoute = await Omni.has("POST", `${BASE}/agents/{agentId}/dns`);
    const tools = await OmniDirect.tools();
    const box = document.getElementById("agents");
    box.replaceChildren(...agents.map((a) => {
      const dnsOn = !!(a.dns ?? a.dnsEnabled ?? a.dns_enabled);
      // Agents OmniRoute can configure get one control: directly / intercept / off.
      const dns = tools.has(a.id) ? OmniDirect.control(a, tools.get(a.id)) : dnsRoute
        ? el("label", { class: "inline", dataset: { field: "enabled" } }, el("input", { type: "checkbox", checked: dnsOn, "aria-label": `DNS mode for ${a.id}`,
            onchange: async (ev) => {
              const r = await api("POST", `${BASE}/agents/${a.id}/dns`, { enabled: ev.target.checked });
              if (!r.ok) { ev.target.checked = !ev.target.checked; Omni.showErrors(ev.target.closest(".card"), r.error, "enabled"); return; }
              Omni.toast(`DNS mode ${ev.target.checked ? "on" : "off"} for ${a.name}` + (r.data && r.data.warning ? ` — ${r.data.warning}` : ""));
            } }), "DNS mode (hosts file)")
        : el("span", { class: "unavailable small", text: "DNS toggle not available in this build" });
      return el("div", { class: "card agent", dataset: { agent: a.id } },
        el("div", { class: "section-head" }, el("strong", { text: a.name }), el("code", { class: "muted", text: a.id }), el("span", { class: "spacer" }),
          el("span", { class: "badge " + (a.routable ? "ok" : "warn"), text: a.routable ? "routable" : "pass-through only" })),
        a.routable ? null : el("p", { class: "small", text: a.reason }),
        // What routing this agent still cannot do (Gemini CLI's Google-login set-up calls, Zed's own endpoints).
        (a.limits || []).length ? el("ul", { class: "small muted limits" }, ...a.limits.map((t) => el("li", { text: t }))) : null,
        el("p", { class: "small muted" }, "Hosts: ", (a.hosts || []).join(", ") || "—"),
        el("p", { class: "small muted" }, "Formats: ", (a.wire_formats || []).join(", ") || "—"),
        a.last_seen !== undefined ? el("p", { class: "small muted" }, `Last seen: ${a.last_seen ? Omni.fmtDateTime(a.last_seen) : "never"} · CA ${a.cert_trust || "unknown"}`) : null,
        a.last_error ? el("p", { class: "small form-error", text: a.last_error }) : null,
        el("p", { class: "small" }, `${a.mappings || 0} mapping${a.mappings === 1 ? "" : "s"}`,
          a.routable && !a.mappings ? el("span", { class: "muted", text: " — unmapped calls pass through unchanged" }) : null),
        el("div", { class: "inline" }, dns,
          el("button", { type: "button", class: "ghost", text: "Edit mappings", disabled: !a.routable, onclick: () => selectMappingAgent(a.id) }),
          el("a", { class: "button ghost", href: `/ui/inspector?agent=${encodeURIComponent(a.id)}`, text: "Inspect" }),
          ...OmniOwnAgents.buttons(a)));
    }));
  }

  // ---- mappings editor ----
  const rowsBox = document.getElementById("mapping-rows");
  const mForm = document.getElementById("mappings-form");
  const agentSelect = document.getElementById("mapping-agent");

  function mappingRow(source, target) {
    const row = el("div", { class: "row mapping-row" },
      el("label", {}, "Source model", el("input", { name: "source", value: source || "", placeholder: "* or gpt-4o or claude-*", size: "24" })),
      el("label", {}, "Target", el("input", { name: "target", value: target || "", list: "target-options", placeholder: "connection/model, alias or combo", size: "32" })),
      el("button", { type: "button", class: "ghost", title: "Remove row", "aria-label": "Remove row", text: "✕", onclick: () => { row.remove(); renumber(); } }));
    row.append(...OmniOwnAgents.testButton(() => agentSelect.value, row));
    rowsBox.append(row);
    renumber();
    return row;
  }
  function renumber() {
    [...rowsBox.children].forEach((row, i) => {
      const [s, t] = row.querySelectorAll("label");
      s.dataset.field = `mappings.${i}.source`; t.dataset.field = `mappings.${i}.target`;
    });
  }
  async function selectMappingAgent(id, scroll = true) {
    agentSelect.value = id;
    Omni.clearErrors(mForm);
    const r = await api("GET", `${BASE}/agents/${id}/mappings`);
    rowsBox.replaceChildren();
    if (!r.ok) { Omni.showErrors(mForm, r.error, "mappings"); return; }
    for (const m of r.data) mappingRow(m.source_model ?? m.source, m.target_model ?? m.target);
    if (!r.data.length) mappingRow("", "");
    // Declared in the config file: shown, not editable.
    const declared = r.data.some((m) => m.from_config);
    for (const control of mForm.querySelectorAll("input, button")) control.disabled = declared;
    mForm.title = declared ? Omni.FROM_FILE : "";
    mForm.classList.toggle("from-config", declared);
    if (scroll) document.getElementById("mappings-card").scrollIntoView({ block: "nearest" });
  }
  document.getElementById("mapping-add").addEventListener("click", () => mappingRow("", "").querySelector("input").focus());
  agentSelect.addEventListener("change", () => selectMappingAgent(agentSelect.value));
  mForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const mappings = [...rowsBox.children].map((row) => ({ source: row.querySelector("[name=source]").value.trim(), target: row.querySelector("[name=target]").value.trim() }))
      .filter((m) => m.source || m.target);
    const r = await api("PUT", `${BASE}/agents/${agentSelect.value}/mappings`, { mappings });
    if (!r.ok) { Omni.showErrors(mForm, r.error, "mappings"); return; }
    Omni.clearErrors(mForm);
    Omni.toast(`Saved ${r.data.mappings.length} mapping(s) for ${agentSelect.value}`);
    const a = agents.find((x) => x.id === agentSelect.value);
    if (a) { a.mappings = r.data.mappings.length; drawAgents(); }
  });
  async function fillTargets() {
    const [models, combos, aliases] = await Promise.all([api("GET", "/v1/models"), api("GET", "/api/combos"), api("GET", "/api/models/alias")]);
    const names = new Set();
    if (models.ok) for (const m of models.data.data || []) names.add(m.id);
    if (combos.ok) for (const c of combos.data.combos || []) names.add(c.name);
    if (aliases.ok) for (const a of aliases.data.aliases || []) names.add(a.alias);
    document.getElementById("target-options").replaceChildren(...[...names].sort().map((n) => el("option", { value: n })));
  }

  // ---- env snippet ----
  function envSnippet(a) {
    const cert = cfg.caCertPath || "~/.omniroute/certs/mitmproxy-ca-cert.pem";
    const bundle = cfg.caBundlePath || cert;
    const lines = [`export HTTPS_PROXY=http://127.0.0.1:${cfg.proxyPort}`, `export HTTP_PROXY=http://127.0.0.1:${cfg.proxyPort}`, "export NO_PROXY=localhost,127.0.0.1"];
    for (const v of a.env || []) lines.push(`export ${v}=${v === "NODE_EXTRA_CA_CERTS" ? cert : bundle}`);
    if (!cfg.proxyPort) lines.unshift("# the HTTP_PROXY listener is disabled (--proxy-port 0); start OmniRoute with a proxy port");
    return lines.join("\n");
  }
  const envSelect = document.getElementById("env-agent");
  const drawEnv = () => { const a = agents.find((x) => x.id === envSelect.value); if (a) document.getElementById("env-snippet").textContent = envSnippet(a); };
  envSelect.addEventListener("change", drawEnv);
  document.getElementById("env-copy").addEventListener("click", () => Omni.copy(document.getElementById("env-snippet").textContent));

  // ---- CA, bypass, upstream CA ----
  async function drawCa() {
    document.getElementById("ca-path").textContent = cfg.caCertPath ? `file: ${cfg.caCertPath}` : "";
    document.getElementById("trust-list").replaceChildren(el("pre", { text: `CERT=${cfg.caCertPath || "~/.omniroute/certs/mitmproxy-ca-cert.pem"}` }),
      ...TRUST.map(([os, cmd, script]) => el("div", {}, el("h3", { text: os }), el("pre", { text: `${cmd}\n# or, from the repository: ${script}` }))),
      el("p", { class: "small muted", text: "`omniroute cert trust --dry-run` prints the exact commands for this machine. After regenerating the CA, untrust the old one and trust the new one." }));
    if (await Omni.has("GET", `${BASE}/cert`)) {
      document.getElementById("ca-pem").href = Omni.withKey(`${BASE}/cert?format=pem`);
      document.getElementById("ca-der").href = Omni.withKey(`${BASE}/cert?format=der`);
    }
    const actions = document.getElementById("cert-actions");
    if (await Omni.has("POST", `${BASE}/server`)) {
      const out = el("pre", { id: "trust-commands", hidden: true });
      actions.append(el("button", { type: "button", class: "ghost", text: "Show trust commands for this machine", onclick: async () => {
        const r = await api("POST", `${BASE}/server`, { action: "trust-cert", dryRun: true });
        out.hidden = false;
        out.textContent = r.ok ? (r.data.commands || []).join("\n") || "(nothing to run on this OS)" : r.error.message;
      } }), out);
    }
    if (await Omni.has("POST", `${BASE}/cert`)) {
      actions.prepend(el("button", { type: "button", class: "danger", text: "Regenerate CA", onclick: async () => {
        if (!confirm("Regenerate the CA? Agents that trusted the old one must trust the new one.")) return;
        const r = await api("POST", `${BASE}/cert`, { action: "regenerate" });
        Omni.toast(r.ok ? "CA regenerated: trust the new certificate" : r.error.message, !r.ok);
      } }));
    }
  }
  async function drawBypass() {
    const box = document.getElementById("bypass");
    if (!(await Omni.has("GET", `${BASE}/bypass`))) { box.replaceChildren(Omni.unavailable("Editing the bypass list")); return; }
    const r = await api("GET", `${BASE}/bypass`);
    if (!r.ok) { box.replaceChildren(el("p", { class: "form-error", text: r.error.message })); return; }
    const rows = Array.isArray(r.data) ? r.data : (r.data.patterns || []);
    const defaults = rows.filter((x) => x.source === "default").map((x) => x.pattern);
    const user = rows.filter((x) => x.source === "user" || x.source === "config").map((x) => x.pattern);
    const declared = rows.some((x) => x.source === "config");
    const form = el("form", { class: "stack", id: "bypass-form", title: declared ? Omni.FROM_FILE : "" },
      el("label", { dataset: { field: "patterns" } }, declared ? ["Patterns from the config file ", Omni.fromFile()] : "Your patterns (one per line)",
        el("textarea", { name: "patterns", rows: "4", readonly: declared }, user.join("\n"))),
      el("button", { type: "submit", text: "Save bypass list", disabled: declared }));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const patterns = form.elements.patterns.value.split("\n").map((x) => x.trim()).filter(Boolean);
      const res = await api("PUT", `${BASE}/bypass`, { patterns });
      if (!res.ok) { Omni.showErrors(form, res.error, "patterns"); return; }
      Omni.toast("Bypass list saved"); drawBypass();
    });
    box.replaceChildren(el("details", {}, el("summary", { text: `${defaults.length} default patterns` }), el("pre", { text: defaults.join("\n") })), form);
  }
  async function drawUpstreamCa() {
    const box = document.getElementById("upstream-ca");
    if (!(await Omni.has("GET", `${BASE}/upstream-ca`))) { box.replaceChildren(Omni.unavailable("The upstream CA setting")); return; }
    const r = await api("GET", `${BASE}/upstream-ca`);
    const form = el("form", { class: "inline", id: "upstream-ca-form" },
      el("label", { dataset: { field: "path" } }, "PEM file of your corporate CA (used to verify upstream servers)",
        el("input", { name: "path", size: "48", value: (r.ok && r.data && r.data.path) || "", placeholder: "/etc/ssl/certs/corporate-ca.pem" })),
      el("button", { type: "submit", text: "Save" }),
      await Omni.has("DELETE", `${BASE}/upstream-ca`) ? el("button", { type: "button", class: "ghost", text: "Clear", onclick: async () => {
        const res = await api("DELETE", `${BASE}/upstream-ca`);
        Omni.toast(res.ok ? "Upstream CA cleared: system trust store only" : res.error.message, !res.ok); drawUpstreamCa();
      } }) : null,
      el("span", { class: "muted small", text: r.ok && r.data && r.data.bundle ? `in use: ${r.data.bundle}` : "using the system trust store" }));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const res = await api("POST", `${BASE}/upstream-ca`, { path: form.elements.path.value.trim() });
      if (!res.ok) { Omni.showErrors(form, res.error, "path"); return; }
      Omni.clearErrors(form); Omni.toast("Upstream CA saved");
    });
    box.replaceChildren(form);
  }

  async function loadAgents() {
    const r = await api("GET", `${BASE}/agents`);
    if (!r.ok) { document.getElementById("agents").replaceChildren(el("p", { class: "form-error", text: r.error.message })); }
    agents = r.ok ? r.data : [];
    agentSelect.replaceChildren(...agents.map((a) => el("option", { value: a.id, text: a.name, disabled: !a.routable })));
    envSelect.replaceChildren(...agents.map((a) => el("option", { value: a.id, text: a.name })));
  }
  // After an agent of the user's is added, changed or deleted: cards, selects, mappings.
  OmniOwnAgents.setRefresh(async (selected) => {
    const keep = agents.some((a) => a.id === agentSelect.value) ? agentSelect.value : null;
    await loadAgents();
    await drawAgents();
    const id = [selected, keep].find((x) => x && agents.some((a) => a.id === x)) || (agents.find((a) => a.routable) || {}).id;
    if (id) { await selectMappingAgent(id, false); envSelect.value = id; drawEnv(); }
  });

  async function init() {
    cfg = await Omni.config();
    await loadAgents();
    await Promise.all([drawListeners(), drawAgents(), drawCa(), drawBypass(), drawUpstreamCa(), fillTargets()]);
    const first = new URLSearchParams(location.search).get("agent") || (agents.find((a) => a.routable) || {}).id;
    if (first) { await selectMappingAgent(first, false); envSelect.value = first; drawEnv(); }
    document.body.dataset.ready = "true";
  }
  init();
})();
