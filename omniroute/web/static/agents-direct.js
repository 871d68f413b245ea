/* Agents page: one "connection" control per agent OmniRoute can configure — use OmniRoute
   directly (its own settings file), intercept (DNS mode), or off. State from /api/cli-tools/runtime. */
"use strict";
(function () {
  const { el, api } = Omni;
  const TOOLS = "/api/cli-tools", BRIDGE = "/api/tools/agent-bridge";
  const LABELS = { direct: "use OmniRoute directly", intercept: "intercept", off: "off" };

  /** agent id → tool, or an empty map when this build has no CLI tools routes. */
  async function tools() {
    if (!(await Omni.has("GET", `${TOOLS}/runtime/{toolId}`))) return new Map();
    const r = await api("GET", TOOLS);
    return new Map(r.ok ? r.data.tools.filter((t) => t.supported).map((t) => [t.agent, t]) : []);
  }

  async function setMode(agent, tool, from, to) {
    // Leave the current mode first, then enter the new one.
    if (from === "direct") {
      const r = await api("DELETE", `${TOOLS}/${tool.slug}-settings`);
      if (!r.ok) return r;
    }
    if (from === "intercept" || (to === "intercept" && from !== "intercept")) {
      const r = await api("POST", `${BRIDGE}/agents/${agent.id}/dns`, { enabled: to === "intercept" });
      if (!r.ok || to === "intercept") return r;
    }
    return to === "direct" ? api("POST", `${TOOLS}/${tool.slug}-settings`, {}) : { ok: true };
  }

  /** The control for one agent card (null for agents OmniRoute cannot configure). */
  function control(agent, tool) {
    if (!tool) return null;
    const status = el("span", { class: "small muted", text: "" });
    const select = el("select", { name: "connection", "aria-label": `Connection for ${agent.id}`, disabled: true },
      ...Object.entries(LABELS).map(([value, label]) => el("option", { value, text: label,
        disabled: value === "intercept" && !(agent.hosts || []).length })));
    let mode = "off";
    async function refresh() {
      const r = await api("GET", `${TOOLS}/runtime/${tool.tool}`);
      if (!r.ok) { status.textContent = r.error.message; return; }
      mode = r.data.mode;
      select.value = mode;
      select.disabled = false;
      status.textContent = (r.data.installed ? `${r.data.version || "installed"}` : "not installed on this machine") +
        (mode === "direct" ? ` · ${r.data.baseUrl}` : "");
    }
    select.addEventListener("change", async () => {
      const to = select.value;
      select.disabled = true;
      const r = await setMode(agent, tool, mode, to);
      if (!r.ok) Omni.showErrors(select.closest(".card"), r.error, "connection");
      else Omni.toast(`${agent.name}: ${LABELS[to]}`);
      await refresh();
    });
    refresh();
    return el("label", { class: "inline", dataset: { field: "connection" } }, "Connection ", select, status);
  }

  window.OmniDirect = { tools, control };
})();
