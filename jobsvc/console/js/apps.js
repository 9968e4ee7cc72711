// apps.js: the apps and their nodes (the topology: masters, replicas,
// slots, last refresh); admins register, refresh and remove apps, as the
// CLI's `node` command does.

import { el, put, append } from "./dom.js";
import { get, post, call, seg } from "./api.js";
import { isAdmin } from "./auth.js";
import { t } from "./i18n.js";
import { kv, notice, errorNotice, when, confirmDialog } from "./view.js";

function nodeCounts(app) {
  const nodes = Array.isArray(app.nodes) ? app.nodes : [];
  const m = nodes.filter((n) => n.role === "master").length;
  const r = nodes.filter((n) => n.role === "replica").length;
  return m + " master" + (m === 1 ? "" : "s") + (r ? ", " + r + " replica" + (r === 1 ? "" : "s") : "");
}

function slots(v) {
  if (!Array.isArray(v)) return v == null ? t("none") : String(v);
  return v.map((r) => (Array.isArray(r) ? r.join("-") : String(r))).join(" ");
}

function addForm(main, live) {
  const input = (name, type, extra) => el("input", { id: "app-" + name, name, type: type || "text", autocomplete: "off", ...(extra || {}) });
  const kind = el("select", { id: "app-kind", name: "kind" }, ["standalone", "replicated", "cluster"].map((k) => el("option", { value: k }, k)));
  const status = el("div", { id: "app-add-status" });
  const form = el(
    "form",
    { class: "card", id: "app-add" },
    el("h2", {}, t("apps.add")),
    el("label", { for: "app-name" }, t("apps.name") + " *"), input("name"),
    el("label", { for: "app-kind" }, t("apps.kind") + " *"), kind,
    el("label", { for: "app-addr" }, t("apps.addr") + " *"), input("addr", "text", { placeholder: "10.0.0.5:6379" }),
    el("label", { for: "app-user" }, t("apps.user")), input("user"),
    el("label", { for: "app-password" }, t("apps.password")), input("password", "password", { autocomplete: "new-password" }),
    el("label", { for: "app-window" }, t("apps.window") + " (HH:MM-HH:MM UTC)"), input("window", "text", { placeholder: "01:00-05:00" }),
    status,
    el("div", { class: "actions" }, el("button", { type: "submit", class: "primary", id: "app-add-go" }, t("apps.add"))),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const v = (n) => form.elements.namedItem(n).value.trim() || null;
    try {
      await post("/apps", { name: v("name"), kind: kind.value, addr: v("addr"), user: v("user"), password: v("password"), maintenance_window: v("window") });
      if (live()) await appsPage(main, live);
    } catch (ex) {
      put(status, errorNotice(ex));
    }
  });
  return form;
}

export async function appsPage(main, live) {
  const apps = await get("/apps");
  if (!live()) return;
  const table = el(
    "table",
    { class: "list", id: "apps" },
    el("thead", {}, el("tr", {}, [t("apps.name"), t("apps.kind"), t("apps.addr"), t("apps.nodes"), t("apps.window"), t("apps.refreshed")].map((h) => el("th", {}, h)))),
    el(
      "tbody",
      {},
      apps.map((a) =>
        el(
          "tr",
          { "data-app": a.name },
          el("td", {}, el("a", { href: "#/apps/" + encodeURIComponent(a.name) }, a.name)),
          el("td", {}, a.kind),
          el("td", {}, a.addr),
          el("td", {}, nodeCounts(a)),
          el("td", {}, a.maintenance_window ? a.maintenance_window + " UTC" : t("apps.any")),
          el("td", {}, when(a.refreshed_at)),
        ),
      ),
    ),
  );
  put(main,
    el("h1", {}, t("apps.title")),
    apps.length ? el("div", { class: "scroll" }, table) : el("p", { class: "muted" }, t("apps.none")),
    isAdmin() ? addForm(main, live) : null,
  );
}

export async function appPage(main, name, live) {
  const path = "/apps/" + seg(name);
  const a = await get(path);
  if (!live()) return;
  const status = el("div", { id: "app-status" });
  const actions = el("div", { class: "actions" });
  if (isAdmin()) {
    append(actions, [
      el("button", {
        type: "button", id: "app-refresh",
        onclick: async () => {
          try {
            await post(path + "/refresh");
            if (live()) await appPage(main, name, live);
          } catch (ex) {
            put(status, errorNotice(ex));
          }
        },
      }, t("apps.refresh")),
      el("button", {
        type: "button", class: "danger", id: "app-delete",
        onclick: async () => {
          const ok = await confirmDialog(t("apps.sure.delete", name), { danger: true });
          if (!ok.ok) return;
          try {
            await call("DELETE", path);
            location.hash = "#/apps";
          } catch (ex) {
            put(status, errorNotice(ex));
          }
        },
      }, t("apps.delete")),
    ]);
  }
  const nodes = Array.isArray(a.nodes) ? a.nodes : [];
  put(main,
    el("h1", {}, a.name),
    actions,
    status,
    el(
      "section",
      { class: "card" },
      kv([
        [t("apps.kind"), a.kind],
        [t("apps.addr"), a.addr],
        [t("apps.user"), a.user],
        [t("apps.password"), a.has_password ? t("apps.password.set") : t("none")],
        [t("apps.window"), a.maintenance_window ? a.maintenance_window + " UTC" : t("apps.any")],
        [t("apps.refreshed"), when(a.refreshed_at)],
        [t("apps.nodes"), nodeCounts(a)],
      ]),
    ),
    nodes.length
      ? el(
          "div",
          { class: "scroll" },
          el(
            "table",
            { class: "list", id: "nodes" },
            el("thead", {}, el("tr", {}, [t("apps.addr"), t("apps.role"), t("apps.master"), t("apps.slots")].map((h) => el("th", {}, h)))),
            el("tbody", {}, nodes.map((n) => el("tr", {}, el("td", {}, n.addr), el("td", {}, n.role), el("td", {}, n.master || t("none")), el("td", {}, slots(n.slots))))),
          ),
        )
      : notice(t("none")),
  );
}
