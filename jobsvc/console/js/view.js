// view.js: the pieces every page shows: state and type names, key/value
// lists, JSON blocks, notices, numbers, and the confirmation dialog.

import { el, append } from "./dom.js";
import { t } from "./i18n.js";

export const STATES = ["pending", "approved", "running", "succeeded", "failed", "cancelled", "rejected", "returned"];
export const TYPES = ["analysis", "hotkeys", "cleanup", "migration", "restore"];

export const stateName = (s) => t("state." + s);
export const typeName = (k) => t("type." + k);

export function stateBadge(s) {
  return el("span", { class: "state state-" + s, "data-state": s }, stateName(s));
}

/** The app a ticket's parameters name (a migration: source → target). */
export function ticketApp(tk) {
  const p = tk.params || {};
  if (p.app) return p.app;
  if (p.source || p.target) {
    const src = typeof p.source === "string" ? p.source : (p.source && (p.source.app || p.source.file)) || "?";
    return src + " → " + (p.target || "?");
  }
  return p.file || "";
}

/** A definition list of [label, value] pairs (values: text or nodes). */
export function kv(pairs) {
  const dl = el("dl", { class: "kv" });
  for (const [k, v] of pairs) {
    if (v === undefined) continue;
    append(dl, [el("dt", {}, k), el("dd", {}, v === null || v === "" ? t("none") : v)]);
  }
  return dl;
}

/** A JSON value, pretty-printed as text. */
export function json(value) {
  return el("pre", { class: "json" }, JSON.stringify(value, null, 2));
}

export function notice(text, kind) {
  return el("div", { class: "notice" + (kind ? " " + kind : ""), role: "status" }, text);
}

/** An API error as the page says it (403 and 404 named). */
export function errorText(err) {
  const m = err && err.message ? err.message : String(err);
  if (err && err.status === 403) return t("err.403", m);
  if (err && err.status === 404) return t("err.404", m);
  return t("err.generic", m);
}

export function errorNotice(err) {
  const n = notice(errorText(err), "bad");
  n.classList.add("api-error");
  if (err && err.status) n.setAttribute("data-status", String(err.status));
  return n;
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];
export function bytes(n) {
  if (typeof n !== "number" || !isFinite(n)) return n == null ? t("none") : String(n);
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return (i === 0 ? String(v) : v.toFixed(1)) + " " + UNITS[i];
}

export function num(n) {
  return typeof n === "number" ? n.toLocaleString() : n == null ? t("none") : String(n);
}

export function secs(n) {
  if (typeof n !== "number") return n == null ? t("none") : String(n);
  if (n < 90) return Math.round(n) + " s";
  if (n < 5400) return Math.round(n / 60) + " min";
  return (n / 3600).toFixed(1) + " h";
}

/** An RFC 3339 time as "YYYY-MM-DD HH:MM:SS UTC". */
export function when(s) {
  return typeof s === "string" ? s.replace("T", " ").replace("Z", " UTC") : t("none");
}

/**
 * Asks for confirmation in a modal dialog. Options: `warning` (a notice in
 * the dialog), `reason` ("required" or "optional": a text box), `danger`.
 * Resolves to {ok, text}.
 */
export function confirmDialog(title, opts = {}) {
  return new Promise((resolve) => {
    const box = opts.reason
      ? el("textarea", { id: "dialog-text", rows: opts.value ? 10 : 3, "aria-label": opts.label || (opts.reason === "required" ? t("a.reason") : t("a.note")) })
      : null;
    if (box && opts.value) box.value = opts.value;
    const err = el("p", { class: "error", id: "dialog-error" });
    const dlg = el("dialog", { id: "confirm" });
    const done = (ok) => {
      const text = box ? box.value.trim() : "";
      if (ok && opts.reason === "required" && !text) {
        err.textContent = t("a.reason.missing");
        box.focus();
        return;
      }
      dlg.close();
      dlg.remove();
      resolve({ ok, text });
    };
    append(dlg, [
      el("h2", {}, title),
      opts.warning ? notice(opts.warning, "bad") : null,
      box ? el("label", { for: "dialog-text" }, opts.label || (opts.reason === "required" ? t("a.reason") : t("a.note"))) : null,
      box,
      err,
      el(
        "div",
        { class: "actions" },
        el("button", { type: "button", id: "dialog-ok", class: opts.danger ? "danger" : "primary", onclick: () => done(true) }, t("a.confirm")),
        el("button", { type: "button", id: "dialog-cancel", onclick: () => done(false) }, t("a.back")),
      ),
    ]);
    dlg.addEventListener("cancel", (e) => {
      e.preventDefault();
      done(false);
    });
    document.body.appendChild(dlg);
    dlg.showModal();
    (box || dlg.querySelector("#dialog-ok")).focus();
  });
}
