/* Shared helpers for every page: API calls, error display, DOM building, formatting, theme. */
"use strict";
(function () {
  const KEY_STORE = "omniroute.apiKey";
  const THEME_STORE = "omniroute.theme";

  // Theme first (this script loads in <head>), so the page never flashes the wrong colours.
  const savedTheme = localStorage.getItem(THEME_STORE);
  if (savedTheme) document.documentElement.dataset.theme = savedTheme;

  function currentTheme() {
    const t = document.documentElement.dataset.theme;
    if (t) return t;
    return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (v === true) node.setAttribute(k, "");
      else node.setAttribute(k, String(v));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function apiKey() { return localStorage.getItem(KEY_STORE) || ""; }

  function showAuthBanner(message) {
    const banner = document.getElementById("auth-banner");
    if (!banner) return;
    document.getElementById("auth-message").textContent = message;
    banner.hidden = false;
  }

  /** Call the API; never throws. Resolves to {ok, status, data, error: {message, details}}. */
  async function api(method, path, body, opts = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const key = apiKey();
    if (key) headers.Authorization = "Bearer " + key;
    let response;
    try {
      response = await fetch(path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store", signal: opts.signal,
      });
    } catch (exc) {
      if (exc.name === "AbortError") return { ok: false, status: 0, aborted: true, error: { message: "aborted" } };
      return { ok: false, status: 0, error: { message: "cannot reach OmniRoute: " + exc.message } };
    }
    const text = opts.raw ? null : await response.text();
    let data = null;
    if (text) { try { data = JSON.parse(text); } catch { data = text; } }
    if (opts.raw) data = response;
    if (response.ok) return { ok: true, status: response.status, data };
    const err = (data && data.error) || {};
    const error = {
      message: typeof err === "string" ? err : (err.message || (typeof data === "string" && data) || response.statusText),
      details: Array.isArray(err.details) ? err.details : [],
      code: err.code,
    };
    if (response.status === 404 && error.message === "Not Found") error.missingRoute = true;
    if (response.status === 401) showAuthBanner(error.message + " — enter a key to continue.");
    return { ok: false, status: response.status, data, error };
  }

  let configPromise = null;
  function config() {
    if (!configPromise) {
      configPromise = api("GET", "/api/ui/config").then((r) => (r.ok ? r.data : { routes: [], strategies: [], providerTypes: [] }));
    }
    return configPromise;
  }

  /** Whether this build serves a route ("GET", "/api/…/{id}"), or "WS" for WebSockets. */
  async function has(method, path) {
    const cfg = await config();
    const norm = (s) => s.replace(/\{[^}]*\}/g, "{}").replace(/\/+$/, "");
    const want = method + " " + norm(path);
    return (cfg.routes || []).some((r) => norm(r) === want);
  }

  function clearErrors(scope) {
    scope.querySelectorAll(".field-error, .form-error").forEach((n) => n.remove());
    scope.querySelectorAll(".invalid").forEach((n) => n.classList.remove("invalid"));
  }

  function fieldTarget(scope, field) {
    const parts = String(field || "").split(".");
    while (parts.length) {
      const name = parts.join(".");
      const hit = scope.querySelector(`[data-field="${CSS.escape(name)}"]`);
      if (hit) return hit;
      parts.pop();
    }
    return null;
  }

  /** Show an API error next to the field it names (error.details[].field), else atop the form. */
  function showErrors(scope, error, fallbackField) {
    clearErrors(scope);
    const details = (error && error.details) || [];
    const placed = [];
    for (const d of details) {
      const target = fieldTarget(scope, d.field) || (fallbackField && fieldTarget(scope, fallbackField));
      if (!target) continue;
      placed.push(d);
      target.append(el("span", { class: "field-error", role: "alert", text: d.message }));
      target.querySelectorAll("input, select, textarea").forEach((n) => n.classList.add("invalid"));
      if (target.matches("input, select, textarea")) target.classList.add("invalid");
    }
    if (placed.length === details.length && details.length) return;
    const fb = !details.length && fallbackField ? fieldTarget(scope, fallbackField) : null;
    const message = (error && error.message) || "request failed";
    if (fb) {
      fb.append(el("span", { class: "field-error", role: "alert", text: message }));
      fb.querySelectorAll("input, select, textarea").forEach((n) => n.classList.add("invalid"));
    } else {
      scope.prepend(el("div", { class: "form-error", role: "alert", text: message }));
    }
  }

  function toast(message, isError) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const t = el("div", { class: "toast" + (isError ? " err" : ""), role: isError ? "alert" : "status", text: message });
    box.append(t);
    setTimeout(() => t.remove(), isError ? 7000 : 3500);
  }

  function fmtBytes(n) {
    if (n === null || n === undefined) return "";
    if (n < 1024) return n + " B";
    if (n < 1048576) return (n / 1024).toFixed(1) + " KB";
    return (n / 1048576).toFixed(1) + " MB";
  }
  function fmtMs(ms) {
    if (ms === null || ms === undefined) return "";
    return ms < 1000 ? Math.round(ms) + " ms" : (ms / 1000).toFixed(2) + " s";
  }
  // Formatters are built once: toLocale*String with options builds a new one per call (slow).
  const TIME = new Intl.DateTimeFormat([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  const DATETIME = new Intl.DateTimeFormat([], { dateStyle: "short", timeStyle: "medium", hour12: false });
  const NUM = new Intl.NumberFormat();
  function fmtTime(ts) {
    const d = new Date(ts);
    return isNaN(d) ? "" : TIME.format(d);
  }
  function fmtDateTime(ts) {
    const d = new Date(ts);
    return ts && !isNaN(d) ? DATETIME.format(d) : "—";
  }
  function fmtNum(n) { return n === null || n === undefined ? "" : NUM.format(Number(n)); }

  async function copy(text) {
    try { await navigator.clipboard.writeText(text); toast("Copied"); } catch {
      const ta = el("textarea", {}, text); document.body.append(ta); ta.select();
      document.execCommand("copy"); ta.remove(); toast("Copied");
    }
  }

  function download(filename, text, type) {
    const url = URL.createObjectURL(new Blob([text], { type: type || "application/json" }));
    const a = el("a", { href: url, download: filename });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  /** A URL a plain link can open (downloads): carries the stored API key, if any, as ?key=. */
  function withKey(url) {
    const key = apiKey();
    return key ? url + (url.includes("?") ? "&" : "?") + "key=" + encodeURIComponent(key) : url;
  }

  function unavailable(what) {
    return el("p", { class: "unavailable", text: `${what} is not available in this OmniRoute build yet.` });
  }

  // Entries the config file declares are read-only here: the API refuses to change them.
  const FROM_FILE = "declared in the config file: change it there and reload (SIGHUP or POST /api/config/reload)";
  function fromFile() {
    return el("span", { class: "badge from-config", title: FROM_FILE, text: "config file" });
  }

  function formData(form) {
    const out = {};
    for (const [k, v] of new FormData(form).entries()) out[k] = typeof v === "string" ? v.trim() : v;
    return out;
  }

  // Every form drops its old error messages the moment it is submitted again.
  document.addEventListener("submit", (ev) => clearErrors(ev.target), true);

  document.addEventListener("DOMContentLoaded", () => {
    const toggle = document.getElementById("theme-toggle");
    if (toggle) toggle.addEventListener("click", () => {
      const next = currentTheme() === "dark" ? "light" : "dark";
      document.documentElement.dataset.theme = next;
      localStorage.setItem(THEME_STORE, next);
    });
    const authForm = document.getElementById("auth-form");
    if (authForm) authForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const key = authForm.elements.key.value.trim();
      if (key) { localStorage.setItem(KEY_STORE, key); location.reload(); }
    });
    const state = document.getElementById("auth-state");
    if (state && apiKey()) {
      state.append("using API key ", el("button", { class: "ghost small", type: "button", text: "forget",
        onclick: () => { localStorage.removeItem(KEY_STORE); location.reload(); } }));
    }
  });

  window.Omni = {
    el, api, config, has, withKey, showErrors, clearErrors, toast, copy, download, unavailable, formData, fromFile, FROM_FILE,
    fmtBytes, fmtMs, fmtTime, fmtDateTime, fmtNum, apiKey,
    setApiKey: (k) => localStorage.setItem(KEY_STORE, k),
  };
})();
