// ticket.js: one ticket: who and when, its parameters, the plan the
// approver judges, live progress (polled while it can still change), the
// result, the audit trail, the report files (an analysis' report.html shown
// in a sandboxed frame), its approval records and risk, and the actions the
// caller may take (approve, return, reject, amend, resubmit, cancel).

import { el, put, append } from "./dom.js";
import { get, post, patch, blob, seg } from "./api.js";
import { user, isAdmin } from "./auth.js";
import { t } from "./i18n.js";
import {
  kv, json, notice, errorNotice, stateBadge, typeName, ticketApp, when, bytes, num, secs, confirmDialog,
} from "./view.js";

const LIVE = ["pending", "approved", "running", "returned"];
const POLL_MS = 1000;

/** Is approving this ticket changing data on live nodes? (What, if so.) */
function destructive(tk) {
  const p = tk.params || {};
  if (tk.type === "cleanup" && !p.dry_run) return (p.mode || "delete") + " " + ticketApp(tk);
  if (tk.type === "migration" && p.conflict === "replace") return "replace → " + p.target;
  if (tk.type === "restore" && p.conflict === "replace") return "replace → " + p.app;
  return "";
}

const first = (...vs) => vs.find((v) => v !== undefined && v !== null);

function value(v) {
  if (v === null || v === undefined) return t("none");
  if (typeof v === "object") return el("code", {}, JSON.stringify(v));
  return String(v);
}

function paramsView(tk) {
  return kv(Object.entries(tk.params || {}).map(([k, v]) => [k, value(v)]));
}

export function planView(tk) {
  const p = tk.plan;
  if (!p) return el("p", { class: "muted" }, t("t.noplan"));
  const src = p.source && typeof p.source === "object" ? p.source : {};
  const target = p.target && typeof p.target === "object" ? p.target : {};
  const keys = first(p.keys, p.keys_estimate, src.keys_selected, src.keys_in_dbs);
  const mem = first(p.memory_bytes, p.rdb_bytes, src.rdb_bytes);
  const eta = first(p.eta_secs, p.estimated_seconds);
  let masters = first(p.masters, target.masters);
  if (!masters && Array.isArray(p.reads)) masters = p.reads.map((r) => r.master + (r.read_from && r.read_from !== r.master ? " (← " + r.read_from + ")" : ""));
  if (!masters && Array.isArray(p.per_node)) masters = p.per_node.map((n) => n.node);
  const sample = first(p.sample, p.sample_keys);
  const list = (xs) => el("ul", { class: "plain" }, xs.map((x) => el("li", {}, typeof x === "string" ? x : JSON.stringify(x))));
  return el(
    "div",
    { id: "plan" },
    kv([
      [t("plan.risk"), p.risk ? el("span", { id: "plan-risk", class: "badge risk-" + p.risk }, t("risk." + p.risk)) : undefined],
      [t("plan.source"), typeof p.source === "string" ? p.source : undefined],
      [t("plan.keys"), keys === undefined ? undefined : num(keys)],
      [t("plan.bytes"), mem === undefined ? undefined : bytes(mem)],
      [t("plan.eta"), eta !== undefined ? secs(eta) : p.eta !== undefined ? String(p.eta) : undefined],
      [t("plan.masters"), Array.isArray(masters) ? list(masters.map((m) => (typeof m === "string" ? m : m.addr || JSON.stringify(m)))) : undefined],
      [t("plan.samples"), Array.isArray(sample) && sample.length ? el("div", { id: "plan-sample" }, list(sample)) : undefined],
      [t("t.hash"), el("code", { id: "params-hash" }, tk.params_hash)],
      [t("plan.action"), p.action !== undefined ? String(p.action) : undefined],
      [t("plan.note"), p.note !== undefined ? String(p.note) : p.cost !== undefined ? String(p.cost) : undefined],
      [t("plan.rollback"), typeof p.rollback === "string" ? el("span", { id: "plan-rollback", class: p.rollback_possible === false ? "error" : "" }, p.rollback) : undefined],
    ]),
    el("details", {}, el("summary", {}, t("plan.all")), json(p)),
  );
}

function progressView(tk) {
  const pr = tk.progress || {};
  const counters = Object.assign({}, pr.counters || {});
  const reason = counters.reason;
  delete counters.reason;
  const pct = typeof pr.percent === "number" ? pr.percent : 0;
  return el(
    "div",
    { id: "progress", "data-phase": pr.phase || "" },
    el("progress", { max: 100, value: pct, "aria-label": t("t.progress") }),
    kv([
      [t("t.phase"), (pr.phase || "") + " · " + pct.toFixed(1) + "%"],
      [t("t.paused"), pr.phase === "paused" ? String(reason || t("yes")) : undefined],
      [t("t.counters"), Object.keys(counters).length ? kv(Object.entries(counters).map(([k, v]) => [k, value(v)])) : undefined],
    ]),
  );
}

/** The approval records: who must approve, who did (and for whom), with
 * buttons on the current round's pending records. */
function approvalsView(tk, act) {
  const rows = tk.approvals || [];
  if (!rows.length) return el("p", { class: "muted", id: "approvals-none" }, t("ap.none"));
  const me = user();
  const mayAct = tk.state === "pending" && tk.submitter !== me.name;
  return el(
    "div",
    { class: "scroll" },
    el(
      "table",
      { id: "approvals", class: "list" },
      el("thead", {}, el("tr", {}, ["round", "needs", "state", "by", "note", ""].map((h) => el("th", {}, h ? t("ap." + h) : "")))),
      el(
        "tbody",
        {},
        rows.map((a) => {
          const who = a.actor ? a.actor + (a.for_user ? " " + t("ap.for", a.for_user) : "") : "—";
          const needs = a.requirement + " (" + (a.approvers ? a.approvers.join(", ") : t("ap.anyadmin")) + ")";
          const buttons = mayAct && a.current && a.state === "pending"
            ? ["approve", "return", "reject"].map((w) =>
                el("button", { type: "button", class: w === "approve" ? "primary" : w === "reject" ? "danger" : "", id: w + "-" + a.id, onclick: () => act(w, a.id) }, t("a." + w)))
            : [];
          return el(
            "tr",
            { "data-approval": String(a.id), "data-state": a.state, class: a.current ? "" : "muted" },
            el("td", {}, String(a.round)),
            el("td", {}, needs),
            el("td", {}, t("ap.s." + a.state)),
            el("td", { class: "approver" }, who),
            el("td", { class: "note" }, a.note || ""),
            el("td", { class: "actions" }, buttons),
          );
        }),
      ),
    ),
  );
}

function auditView(rows) {
  return el(
    "div",
    { class: "scroll" },
    el(
      "table",
      { id: "audit", class: "list" },
      el("thead", {}, el("tr", {}, ["at", "actor", "change", "note"].map((h) => el("th", {}, t("audit." + h))))),
      el(
        "tbody",
        {},
        rows.map((a) =>
          el("tr", {}, el("td", {}, when(a.at)), el("td", {}, a.actor), el("td", {}, (a.from || "—") + " → " + a.to), el("td", { class: "note" }, a.note || "")),
        ),
      ),
    ),
  );
}

async function download(id, name) {
  const b = await blob("/tickets/" + id + "/report/" + name.split("/").map(seg).join("/"));
  const url = URL.createObjectURL(b);
  const a = el("a", { href: url, download: name.split("/").pop() });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function reportsView(tk, files) {
  if (!files.length) return el("p", { class: "muted" }, t("t.noreport"));
  const box = el("div", { id: "reports" });
  append(box, [
    el(
      "table",
      { class: "list" },
      el(
        "tbody",
        {},
        files.map((f) =>
          el(
            "tr",
            { "data-file": f.name },
            el("td", {}, el("code", {}, f.name)),
            el("td", { class: "num" }, bytes(f.bytes)),
            el("td", {}, el("button", { type: "button", class: "link", onclick: () => download(tk.id, f.name).catch((e) => append(box, [errorNotice(e)])) }, t("t.download"))),
          ),
        ),
      ),
    ),
  ]);
  if (files.some((f) => f.name === "report.html")) {
    // Shown in a frame that may run the report's own script but, sandboxed
    // without same-origin, cannot reach this page, its storage or the API.
    append(box, [
      el("h2", {}, t("t.report")),
      el("iframe", {
        class: "report",
        id: "report-frame",
        sandbox: "allow-scripts",
        referrerpolicy: "no-referrer",
        title: "report.html",
        "data-src": "/tickets/" + tk.id + "/report/report.html",
      }),
    ]);
  }
  return box;
}

/** Loads report.html into its frame through a one-use view link. */
async function loadReportFrame(id) {
  const frame = document.getElementById("report-frame");
  if (!frame || frame.getAttribute("src")) return;
  const link = await post("/tickets/" + id + "/report-view", { name: "report.html" });
  frame.setAttribute("src", link.url);
}

function actionsView(tk, act) {
  const me = user();
  const admin = isAdmin();
  const box = el("div", { class: "actions", id: "actions" });
  if (tk.state === "pending" && (admin || tk.submitter !== me.name)) {
    append(box, [
      el("button", { type: "button", class: "primary", id: "approve", onclick: () => act("approve") }, t("a.approve")),
      el("button", { type: "button", id: "return", onclick: () => act("return") }, t("a.return")),
      el("button", { type: "button", class: "danger", id: "reject", onclick: () => act("reject") }, t("a.reject")),
    ]);
  }
  if (tk.state === "returned" && (admin || tk.submitter === me.name)) {
    append(box, [
      el("button", { type: "button", id: "amend", onclick: () => act("amend") }, t("a.amend")),
      el("button", { type: "button", class: "primary", id: "resubmit", onclick: () => act("resubmit") }, t("a.resubmit")),
    ]);
  }
  if ((admin || tk.submitter === me.name) && LIVE.includes(tk.state)) {
    append(box, [el("button", { type: "button", id: "cancel", onclick: () => act("cancel") }, t("a.cancel"))]);
  }
  if (tk.state === "failed") append(box, [el("p", { class: "muted" }, t("a.retry"))]);
  // A finished cleanup that changed keys can be undone from its backup
  // (none when it ran with "backup": false).
  const undoable = !(tk.params && (tk.params.dry_run || tk.params.backup === false));
  if ((admin || tk.submitter === me.name) && tk.type === "cleanup" && tk.state === "succeeded" && undoable) {
    append(box, [el("button", { type: "button", id: "rollback", onclick: () => act("rollback") }, t("a.rollback"))]);
  }
  return box;
}

export async function ticketPage(main, id, live) {
  let tk;
  try {
    tk = await get("/tickets/" + id);
  } catch (ex) {
    if (ex.status === 404 || ex.status === 403) {
      put(main, el("h1", {}, t("t.title", id)), notice(t("t.notfound", id, ex.status), "bad"));
      main.lastChild.id = "ticket-error";
      return;
    }
    throw ex;
  }
  const [audit, files] = await Promise.all([get("/tickets/" + id + "/audit"), get("/tickets/" + id + "/report")]);
  if (!live()) return;
  const status = el("div", { id: "action-status" });
  const act = async (what, approval) => {
    const warning = what === "approve" && destructive(tk) ? t("a.destructive", destructive(tk)) : null;
    const amend = what === "amend";
    const ask = await confirmDialog(t("a.sure." + what, id), {
      warning,
      reason: what === "reject" || what === "return" || amend ? "required" : what === "approve" ? "optional" : null,
      label: amend ? t("a.params") : what === "return" ? t("a.returnnote") : undefined,
      value: amend ? JSON.stringify(tk.params, null, 2) : undefined,
      danger: what === "reject" || what === "cancel" || Boolean(warning),
    });
    if (!ask.ok) return;
    const body = what === "reject" ? { reason: ask.text } : what === "return" || (what === "approve" && ask.text) ? { note: ask.text } : {};
    try {
      if (amend) {
        let params;
        try {
          params = JSON.parse(ask.text);
        } catch (e) {
          put(status, notice(t("a.badjson", e.message), "bad"));
          return;
        }
        await patch("/tickets/" + id, { params });
      } else if (approval) await post("/tickets/" + id + "/approvals/" + approval + "/" + what, body);
      else {
        const answer = await post("/tickets/" + id + "/" + what, body);
        if (what === "rollback") {
          location.hash = "#/ticket/" + answer.id;
          return;
        }
      }
      if (live()) await ticketPage(main, id, live);
    } catch (ex) {
      put(status, errorNotice(ex));
    }
  };
  const rejected = tk.state === "rejected" && tk.error ? tk.error.replace(/^rejected: /, "") : null;
  put(main,
    el("h1", { id: "ticket-title", "data-id": String(tk.id), "data-state": tk.state }, t("t.title", tk.id), " ", stateBadge(tk.state), " ", typeName(tk.type)),
    rejected !== null ? el("div", { class: "notice bad", id: "reject-reason" }, el("strong", {}, t("t.reason") + ": "), rejected) : null,
    tk.error && rejected === null ? el("div", { class: "notice bad", id: "ticket-failure" }, t("t.error") + ": " + tk.error) : null,
    actionsView(tk, act),
    status,
    el(
      "section",
      { class: "card" },
      kv([
        [t("t.type"), typeName(tk.type)],
        [t("t.state"), stateBadge(tk.state)],
        [t("t.submitter"), tk.submitter],
        [t("t.handler"), el("span", { id: "handler" }, tk.handler || t("none"))],
        [t("t.created"), when(tk.created_at)],
        [t("t.updated"), el("span", { id: "updated" }, when(tk.updated_at))],
        [t("t.attempts"), String(tk.attempts)],
      ]),
    ),
    el("h2", {}, t("t.plan")),
    el("section", { class: "card" }, planView(tk)),
    el("h2", {}, t("t.approvals")),
    el("section", { class: "card", id: "approvals-card" }, approvalsView(tk, act)),
    el("h2", {}, t("t.progress"), LIVE.includes(tk.state) ? el("span", { class: "muted" }, " · " + t("t.live")) : null),
    el("section", { class: "card", id: "progress-card" }, progressView(tk)),
    tk.result ? el("h2", {}, t("t.result")) : null,
    tk.result ? el("section", { class: "card", id: "result" }, json(tk.result)) : null,
    el("h2", {}, t("t.params")),
    el("section", { class: "card", id: "params" }, paramsView(tk)),
    el("h2", {}, t("t.reports")),
    el("section", { class: "card", id: "report-files" }, reportsView(tk, files)),
    el("h2", {}, t("t.audit")),
    auditView(audit),
  );
  loadReportFrame(id).catch((e) => {
    const f = document.getElementById("report-frame");
    if (f) f.replaceWith(errorNotice(e));
  });
  if (LIVE.includes(tk.state)) poll(main, id, tk, live);
}

/** Polls the ticket while it can change: progress in place, the whole page on a new state. */
function poll(main, id, shown, live) {
  const tick = async () => {
    if (!live()) return;
    try {
      const tk = await get("/tickets/" + id);
      if (!live()) return;
      if (tk.state !== shown.state) {
        await ticketPage(main, id, live);
        return;
      }
      const card = document.getElementById("progress-card");
      if (card) put(card, progressView(tk));
      const upd = document.getElementById("updated");
      if (upd) upd.textContent = when(tk.updated_at);
    } catch {
      /* a transient failure: try again on the next tick */
    }
    setTimeout(tick, POLL_MS);
  };
  setTimeout(tick, POLL_MS);
}
