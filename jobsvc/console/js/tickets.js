// tickets.js: the tickets page: the summary of ticket handling (counts by
// state and type, tickets waiting for me), the filters, and the list, paged
// by the server.

import { el, append, put } from "./dom.js";
import { call, get, query } from "./api.js";
import { isAdmin } from "./auth.js";
import { t } from "./i18n.js";
import { STATES, TYPES, stateBadge, stateName, typeName, ticketApp, when } from "./view.js";

const PAGE = 20;
const FILTERS = ["state", "type", "app", "submitter", "since", "until"];

function summaryCard(s) {
  const count = (label, n, href, cls, id) =>
    el("a", { class: "count" + (cls ? " " + cls : ""), href, id }, el("span", { class: "n" }, String(n)), label);
  const counts = el("div", { class: "counts", id: "summary-states" });
  if (s.waiting_for_me !== null && s.waiting_for_me !== undefined) {
    append(counts, [count(t("summary.waiting"), s.waiting_for_me, "#/tickets?state=pending", "mine", "count-waiting")]);
  }
  for (const st of ["pending", "running", "succeeded", "rejected"]) {
    append(counts, [count(stateName(st), s.by_state[st] || 0, "#/tickets?state=" + st, null, "count-" + st)]);
  }
  for (const st of STATES.filter((x) => !["pending", "running", "succeeded", "rejected"].includes(x))) {
    if (s.by_state[st]) append(counts, [count(stateName(st), s.by_state[st], "#/tickets?state=" + st, null, "count-" + st)]);
  }
  append(counts, [count(t("summary.total"), s.total, "#/tickets", null, "count-total")]);
  const types = el("div", { class: "counts", id: "summary-types" });
  for (const k of TYPES) {
    append(types, [count(typeName(k), s.by_type[k] || 0, "#/tickets?type=" + k, null, "count-type-" + k)]);
  }
  return el("section", { class: "card", id: "summary" }, el("h2", {}, t("summary.title")), counts, el("h2", {}, t("summary.bytype")), types);
}

function filterForm(q) {
  const select = (name, values, label) =>
    el(
      "select",
      { name, id: "f-" + name },
      el("option", { value: "" }, t("list.any")),
      values.map((v) => el("option", { value: v, selected: q.get(name) === v }, label(v))),
    );
  const input = (name, type) => el("input", { name, id: "f-" + name, type, value: q.get(name) || "" });
  const field = (name, control) => el("label", {}, t("f." + name), control);
  const form = el(
    "form",
    { class: "card filters", id: "filters" },
    field("state", select("state", STATES, stateName)),
    field("type", select("type", TYPES, typeName)),
    field("app", input("app", "text")),
    isAdmin() ? field("submitter", input("submitter", "text")) : null,
    field("since", input("since", "date")),
    field("until", input("until", "date")),
    el("button", { type: "submit", class: "primary", id: "f-apply" }, t("f.apply")),
    el("a", { class: "button", href: "#/tickets" }, t("f.reset")),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const p = {};
    for (const name of FILTERS) {
      const c = form.elements.namedItem(name);
      if (c && c.value) p[name] = c.value;
    }
    location.hash = "#/tickets" + query(p);
  });
  return form;
}

function row(tk) {
  const pct = tk.progress && typeof tk.progress.percent === "number" ? Math.round(tk.progress.percent) + "%" : "";
  return el(
    "tr",
    { "data-id": String(tk.id), "data-state": tk.state, "data-type": tk.type },
    el("td", {}, el("a", { href: "#/ticket/" + tk.id, class: "ticket-link" }, "#" + tk.id)),
    el("td", {}, typeName(tk.type)),
    el("td", {}, stateBadge(tk.state)),
    el("td", {}, ticketApp(tk)),
    el("td", {}, tk.submitter),
    el("td", {}, tk.handler || t("none")),
    el("td", {}, when(tk.created_at)),
    el("td", { class: "num" }, tk.state === "running" ? pct : ""),
  );
}

export async function ticketsPage(main, q, live) {
  const offset = Math.max(0, Number(q.get("offset")) || 0);
  const filters = {};
  for (const name of FILTERS) if (q.get(name)) filters[name] = q.get(name);
  const [summary, page] = await Promise.all([
    get("/tickets/summary"),
    call("GET", "/tickets" + query({ ...filters, limit: PAGE, offset })),
  ]);
  if (!live()) return;
  const list = page.body;
  const total = Number(page.headers.get("x-total-count") || list.length);
  const table = el(
    "table",
    { class: "list", id: "tickets" },
    el(
      "thead",
      {},
      el("tr", {}, ["id", "type", "state", "app", "submitter", "handler", "created", "progress"].map((c) => el("th", {}, t("col." + c)))),
    ),
    el("tbody", {}, list.map(row)),
  );
  const at = (o) => "#/tickets" + query({ ...filters, offset: o || "" });
  const pager = el(
    "div",
    { class: "pager", id: "pager" },
    offset > 0 ? el("a", { class: "button", id: "page-prev", href: at(Math.max(0, offset - PAGE)) }, t("page.prev")) : null,
    el("span", { class: "muted", id: "page-of" }, t("page.of", list.length ? offset + 1 : 0, offset + list.length, total)),
    offset + list.length < total ? el("a", { class: "button", id: "page-next", href: at(offset + PAGE) }, t("page.next")) : null,
  );
  put(main,
    summaryCard(summary),
    el("h1", {}, t("list.title")),
    filterForm(q),
    list.length ? el("div", { class: "scroll" }, table) : el("p", { class: "muted", id: "no-tickets" }, t("list.none")),
    pager,
  );
}
