// schedules.js: recurring analyses: the list (cron, next run, last firing),
// and for admins a form to add one, enable or disable, and delete, as the
// CLI's `schedule` command does.

import { el, put } from "./dom.js";
import { get, post, call, seg } from "./api.js";
import { isAdmin } from "./auth.js";
import { t } from "./i18n.js";
import { errorNotice, when, confirmDialog } from "./view.js";

export async function schedulesPage(main, live) {
  const list = await get("/schedules");
  if (!live()) return;
  const status = el("div", { id: "schedules-status" });
  const reload = () => (live() ? schedulesPage(main, live) : null);
  const act = async (fn) => {
    try {
      await fn();
      await reload();
    } catch (ex) {
      put(status, errorNotice(ex));
    }
  };
  const toggle = (s) =>
    el("button", { type: "button", class: "link", id: "toggle-" + s.name,
      onclick: () => act(() => call("PATCH", "/schedules/" + seg(s.name), { enabled: !s.enabled })) },
    s.enabled ? t("sched.disable") : t("sched.enable"));
  const remove = (s) =>
    el("button", { type: "button", class: "link", id: "remove-" + s.name,
      onclick: async () => {
        const ok = await confirmDialog(t("sched.sure.delete", s.name), { danger: true });
        if (ok.ok) await act(() => call("DELETE", "/schedules/" + seg(s.name)));
      } }, t("sched.delete"));
  const table = list.length === 0
    ? el("p", { class: "muted", id: "schedules-none" }, t("sched.none"))
    : el("div", { class: "scroll" }, el(
      "table",
      { class: "list", id: "schedules" },
      el("thead", {}, el("tr", {}, [t("sched.name"), t("f.app"), t("sched.cron"), t("sched.keep"),
        t("sched.last"), t("sched.next"), isAdmin() ? "" : null].filter((h) => h !== null).map((h) => el("th", {}, h)))),
      el("tbody", {}, list.map((s) =>
        el("tr", { "data-schedule": s.name },
          el("td", {}, s.name),
          el("td", {}, s.app),
          el("td", {}, el("code", {}, s.cron)),
          el("td", { class: "num" }, String(s.keep)),
          el("td", {}, s.last_fired ? when(s.last_fired) : t("none")),
          el("td", {}, s.enabled ? (s.next_run ? when(s.next_run) : t("none")) : t("sched.off")),
          isAdmin() ? el("td", {}, toggle(s), " ", remove(s)) : null))),
    ));
  let form = null;
  if (isAdmin()) {
    const name = el("input", { id: "sched-name", autocomplete: "off", pattern: "[A-Za-z0-9._@\\-]{1,64}" });
    const app = el("input", { id: "sched-app", autocomplete: "off" });
    const cron = el("input", { id: "sched-cron", value: "0 3 * * *", autocomplete: "off" });
    const keep = el("input", { id: "sched-keep", type: "number", min: "1", max: "1000", value: "7" });
    form = el(
      "form",
      { class: "card", id: "schedule-add" },
      el("h2", {}, t("sched.add")),
      el("label", { for: "sched-name" }, t("sched.name")), name,
      el("label", { for: "sched-app" }, t("f.app")), app,
      el("label", { for: "sched-cron" }, t("sched.cron")), cron,
      el("p", { class: "muted" }, t("sched.cron.help")),
      el("label", { for: "sched-keep" }, t("sched.keep")), keep,
      el("div", { class: "actions" }, el("button", { type: "submit", class: "primary", id: "sched-add-go" }, t("sched.add"))),
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      act(() => post("/schedules", { name: name.value.trim(), app: app.value.trim(), cron: cron.value.trim(), keep: Number(keep.value) }));
    });
  }
  put(main, el("h1", {}, t("sched.title")), status, table, form);
}
