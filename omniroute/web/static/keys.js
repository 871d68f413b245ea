/* API keys: create (secret shown once), revoke, re-enable, delete. */
"use strict";
(function () {
  const { el, api } = Omni;
  const form = document.getElementById("key-form");
  const secretBox = document.getElementById("key-secret");

  async function draw() {
    const r = await api("GET", "/api/keys");
    const box = document.getElementById("keys");
    if (!r.ok) { box.replaceChildren(el("p", { class: "form-error", text: r.error.message })); return; }
    if (!r.data.keys.length) { box.replaceChildren(el("p", { class: "muted", text: "No API keys yet." })); return; }
    const patch = async (k, body, msg) => {
      const res = await api("PATCH", `/api/keys/${k.id}`, body);
      Omni.toast(res.ok ? msg : res.error.message, !res.ok); draw();
    };
    box.replaceChildren(el("table", { class: "list" },
      el("thead", {}, el("tr", {}, ["Label", "Key", "Scope", "State", "Created", "Last used", ""].map((h) => el("th", { text: h })))),
      el("tbody", {}, r.data.keys.map((k) => el("tr", { dataset: { key: k.id } },
        el("td", { text: k.label }), el("td", { class: "mono", text: k.keyPreview }), el("td", {}, el("span", { class: "badge", text: k.scope })),
        el("td", {}, el("span", { class: "badge " + (k.isActive ? "ok" : "err"), text: k.isActive ? "active" : "revoked" })),
        el("td", { text: Omni.fmtDateTime(k.createdAt) }), el("td", { text: Omni.fmtDateTime(k.lastUsedAt) }),
        el("td", { class: "inline" }, ...(k.fromConfig ? [Omni.fromFile()] : [
          k.isActive
            ? el("button", { type: "button", class: "danger", text: "Revoke", onclick: () => { if (confirm(`Revoke ${k.label}? Clients using it get 401.`)) patch(k, { isActive: false }, "Key revoked"); } })
            : el("button", { type: "button", class: "ghost", text: "Re-enable", onclick: () => patch(k, { isActive: true }, "Key re-enabled") }),
          el("button", { type: "button", class: "ghost", text: "Delete", onclick: async () => {
            if (!confirm(`Delete ${k.label} for good?`)) return;
            const res = await api("DELETE", `/api/keys/${k.id}`);
            Omni.toast(res.ok ? "Key deleted" : res.error.message, !res.ok); draw();
          } })])))))));
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const r = await api("POST", "/api/keys", Omni.formData(form));
    if (!r.ok) { Omni.showErrors(form, r.error); return; }
    Omni.clearErrors(form);
    form.reset();
    document.getElementById("key-secret-value").textContent = r.data.key;
    document.getElementById("key-use").hidden = r.data.scope !== "admin";
    secretBox.hidden = false;
    draw();
  });
  const forget = () => { document.getElementById("key-secret-value").textContent = ""; secretBox.hidden = true; };
  document.getElementById("key-copy").addEventListener("click", () => Omni.copy(document.getElementById("key-secret-value").textContent));
  document.getElementById("key-use").addEventListener("click", () => { Omni.setApiKey(document.getElementById("key-secret-value").textContent); forget(); location.reload(); });
  document.getElementById("key-dismiss").addEventListener("click", forget);
  draw().then(() => { document.body.dataset.ready = "true"; });
})();
