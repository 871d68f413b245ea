/* Agents page: the user's own agents (add, edit, delete) and trying one mapping target.
   agents.js draws the cards and calls OmniOwnAgents.buttons(agent); it passes `refresh` to redraw. */
"use strict";
const OmniOwnAgents = (function () {
  const { el, api } = Omni;
  const BASE = "/api/tools/agent-bridge";
  const form = document.getElementById("own-agent-form");
  const cancel = document.getElementById("own-agent-cancel");
  let editing = null, refresh = async () => {};

  const list = (text) => text.split(/[,\n]/).map((x) => x.trim()).filter(Boolean);

  function reset() {
    editing = null;
    form.reset();
    form.elements.id.readOnly = false;
    cancel.hidden = true;
    document.getElementById("own-agent-title").textContent = "Add your own agent";
    document.getElementById("own-agent-save").textContent = "Add agent";
    Omni.clearErrors(form);
  }

  function edit(agent) {
    const d = agent.definition;
    editing = d.id;
    form.elements.id.value = d.id; form.elements.id.readOnly = true;
    form.elements.name.value = d.name;
    form.elements.wireFormat.value = d.wireFormat;
    form.elements.hosts.value = d.hosts.join(", ");
    form.elements.userAgents.value = d.userAgents.join(", ");
    form.elements.paths.value = d.paths.join(", ");
    cancel.hidden = false;
    document.getElementById("own-agent-title").textContent = `Edit agent ${d.id}`;
    document.getElementById("own-agent-save").textContent = "Save agent";
    document.getElementById("own-agent-card").scrollIntoView({ block: "nearest" });
  }

  async function remove(agent) {
    if (!confirm(`Delete agent ${agent.id} and its mappings?`)) return;
    const r = await api("DELETE", `${BASE}/agents/${agent.id}`);
    Omni.toast(r.ok ? `Agent ${agent.id} deleted` : r.error.message, !r.ok);
    if (r.ok) { if (editing === agent.id) reset(); await refresh(); }
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = form.elements;
    const body = { id: f.id.value.trim(), name: f.name.value.trim() || null, wireFormat: f.wireFormat.value,
      hosts: list(f.hosts.value), userAgents: list(f.userAgents.value), paths: list(f.paths.value) };
    const r = editing ? await api("PUT", `${BASE}/agents/${editing}`, body) : await api("POST", `${BASE}/agents`, body);
    if (!r.ok) { Omni.showErrors(form, r.error, null); return; }
    Omni.toast(`Agent ${r.data.id} ${editing ? "saved" : "added"}: map its models below`);
    reset();
    await refresh(r.data.id);
  });
  cancel.addEventListener("click", reset);

  /** Edit and Delete for a user's agent card; nothing for a built-in one. */
  function buttons(agent) {
    if (agent.builtin !== false || !agent.definition) return [];
    const declared = agent.definition.fromConfig;
    return [
      el("button", { type: "button", class: "ghost", text: "Edit agent", disabled: declared, title: declared ? Omni.FROM_FILE : "", onclick: () => edit(agent) }),
      el("button", { type: "button", class: "danger", text: "Delete agent", disabled: declared, title: declared ? Omni.FROM_FILE : "", onclick: () => remove(agent) }),
    ];
  }

  /** "Test" beside a mapping row: one small call to its target through the engine. */
  function testButton(agentId, row) {
    const out = el("span", { class: "small mapping-test", role: "status" });
    const button = el("button", { type: "button", class: "ghost", text: "Test", title: "Send one small call to this target",
      onclick: async () => {
        const target = row.querySelector("[name=target]").value.trim();
        if (!target) { out.textContent = "enter a target first"; return; }
        button.disabled = true; out.className = "small mapping-test muted"; out.textContent = "testing…";
        const r = await api("POST", `${BASE}/agents/${agentId()}/mappings/test`, { target });
        button.disabled = false;
        const res = r.ok ? r.data : { ok: false, error: (r.error.details[0] || r.error).message };
        out.className = "small mapping-test " + (res.ok ? "ok" : "form-error");
        out.textContent = res.ok ? `OK (${Omni.fmtMs(res.latencyMs)}): ${res.model || target} replied “${res.reply}”` : `failed: ${res.error || `HTTP ${res.status}`}`;
      } });
    return [button, out];
  }

  return { buttons, testButton, setRefresh: (fn) => { refresh = fn; } };
})();
