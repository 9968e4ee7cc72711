// stats.js: the statistics page (admins): tickets by type and state with
// bars, approval and completion times, rates, and per-app figures, for a
// period and an app, from GET /stats.

import { el, put } from "./dom.js";
import { get, query } from "./api.js";
import { t } from "./i18n.js";
import { bytes, num, secs, errorNotice, stateBadge } from "./view.js";

const STATES = ["pending", "approved", "running", "succeeded", "failed", "cancelled", "rejected"];

function pct(r) {
  return r === null || r === undefined ? t("none") : (r * 100).toFixed(1) + " %";
}

function bar(n, max) {
  // A <meter>: no inline style, which the console's CSP refuses.
  return el("meter", { class: "bar", min: "0", max: String(Math.max(max, 1)), value: String(n) });
}

export async function statsPage(main, q, live) {
  const from = el("input", { id: "stats-from", type: "date", value: q.get("from") || "" });
  const to = el("input", { id: "stats-to", type: "date", value: q.get("to") || "" });
  const app = el("input", { id: "stats-app", value: q.get("app") || "", autocomplete: "off" });
  const form = el(
    "form",
    { class: "filters", id: "stats-filter" },
    el("label", {}, t("f.since"), from),
    el("label", {}, t("f.until"), to),
    el("label", {}, t("f.app"), app),
    el("button", { type: "submit", class: "primary" }, t("f.apply")),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const params = { from: from.value, to: to.value, app: app.value.trim() };
    location.hash = "#/stats" + query(params);
  });
  const params = {};
  for (const k of ["from", "to", "app"]) if (q.get(k)) params[k] = q.get(k);
  let s;
  try {
    s = await get("/stats" + query(params));
  } catch (ex) {
    if (live()) put(main, el("h1", {}, t("stats.title")), form, errorNotice(ex));
    return;
  }
  if (!live()) return;
  const types = Object.entries(s.by_type || {});
  const max = Math.max(0, ...types.flatMap(([, per]) => Object.values(per)));
  const byType = el(
    "table",
    { class: "list", id: "stats-types" },
    el("thead", {}, el("tr", {}, el("th", {}, t("col.type")), STATES.map((st) => el("th", {}, stateBadge(st))))),
    el("tbody", {}, types.map(([kind, per]) =>
      el("tr", { "data-type": kind },
        el("td", {}, t("type." + kind)),
        STATES.map((st) => el("td", { class: "num", "data-state": st }, num(per[st] || 0), " ", bar(per[st] || 0, max)))))),
  );
  const dur = (key, d) =>
    el("tr", { "data-time": key }, el("td", {}, t("stats." + key)), el("td", { class: "num" }, num(d.count)),
      el("td", { class: "num" }, d.median_secs === null ? t("none") : secs(d.median_secs)),
      el("td", { class: "num" }, d.p90_secs === null ? t("none") : secs(d.p90_secs)));
  const times = el(
    "table",
    { class: "list", id: "stats-times" },
    el("thead", {}, el("tr", {}, ["", t("stats.tickets"), t("stats.median"), t("stats.p90")].map((h) => el("th", {}, h)))),
    el("tbody", {}, dur("time_to_approval", s.time_to_approval), dur("time_to_completion", s.time_to_completion)),
  );
  const rates = el(
    "p",
    { id: "stats-rates" },
    t("stats.rates", num(s.rejected), pct(s.rejection_rate), num(s.failed), pct(s.failure_rate)),
  );
  const apps = Object.entries(s.per_app || {});
  const perApp = el(
    "table",
    { class: "list", id: "stats-apps" },
    el("thead", {}, el("tr", {}, [t("f.app"), t("stats.tickets"), t("stats.deleted"), t("stats.expired"),
      t("stats.migrated"), t("stats.analyzed")].map((h) => el("th", {}, h)))),
    el("tbody", {}, apps.map(([name, g]) =>
      el("tr", { "data-app": name },
        el("td", {}, name),
        el("td", { class: "num" }, num(g.tickets)),
        el("td", { class: "num" }, num(g.keys_deleted)),
        el("td", { class: "num" }, num(g.keys_expired)),
        el("td", { class: "num" }, num(g.keys_migrated)),
        el("td", { class: "num" }, bytes(g.bytes_analyzed))))),
  );
  put(main,
    el("h1", {}, t("stats.title")),
    form,
    el("p", { class: "muted", id: "stats-period" }, t("stats.period", s.from, s.to, num(s.tickets))),
    el("h2", {}, t("summary.bytype")), el("div", { class: "scroll" }, byType),
    el("h2", {}, t("stats.times")), el("div", { class: "scroll" }, times),
    rates,
    el("h2", {}, t("stats.perapp")), el("div", { class: "scroll" }, perApp),
  );
}
