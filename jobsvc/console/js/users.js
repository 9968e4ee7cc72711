// users.js: the users page (admins): add a user, change a role, revoke a
// token (a new one is shown once), as the CLI's `user` command does.

import { el, put } from "./dom.js";
import { get, post, call, seg } from "./api.js";
import { user } from "./auth.js";
import { t } from "./i18n.js";
import { errorNotice, when, confirmDialog } from "./view.js";

function tokenNotice(created) {
  return el(
    "div",
    { class: "notice good", id: "new-token" },
    el("p", {}, t("users.token", created.name)),
    el("div", { class: "token", id: "new-token-value" }, created.token),
  );
}

export async function usersPage(main, live, shown) {
  const users = await get("/users");
  if (!live()) return;
  const status = el("div", { id: "users-status" }, shown ? tokenNotice(shown) : null);
  const reload = (created) => (live() ? usersPage(main, live, created) : null);
  const roleSelect = (u) => {
    const sel = el("select", { "aria-label": t("users.role"), id: "role-" + u.name, disabled: u.name === user().name },
      ["submitter", "admin"].map((r) => el("option", { value: r, selected: r === u.role }, t("role." + r))));
    sel.addEventListener("change", async () => {
      try {
        await call("PATCH", "/users/" + seg(u.name), { role: sel.value });
        await reload();
      } catch (ex) {
        put(status, errorNotice(ex));
      }
    });
    return sel;
  };
  const revoke = (u) =>
    el("button", {
      type: "button", class: "link", id: "revoke-" + u.name,
      onclick: async () => {
        const ok = await confirmDialog(t("users.sure.revoke", u.name), { danger: true });
        if (!ok.ok) return;
        try {
          await reload(await post("/users/" + seg(u.name) + "/token"));
        } catch (ex) {
          put(status, errorNotice(ex));
        }
      },
    }, t("users.revoke"));
  const name = el("input", { id: "user-name", name: "name", autocomplete: "off", pattern: "[A-Za-z0-9._@\\-]{1,64}" });
  const role = el("select", { id: "user-role", name: "role" }, ["submitter", "admin"].map((r) => el("option", { value: r }, t("role." + r))));
  const form = el(
    "form",
    { class: "card", id: "user-add" },
    el("h2", {}, t("users.add")),
    el("label", { for: "user-name" }, t("users.name")), name,
    el("label", { for: "user-role" }, t("users.role")), role,
    el("div", { class: "actions" }, el("button", { type: "submit", class: "primary", id: "user-add-go" }, t("users.add"))),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await reload(await post("/users", { name: name.value.trim(), role: role.value }));
    } catch (ex) {
      put(status, errorNotice(ex));
    }
  });
  put(main,
    el("h1", {}, t("users.title")),
    status,
    el(
      "div",
      { class: "scroll" },
      el(
        "table",
        { class: "list", id: "users" },
        el("thead", {}, el("tr", {}, [t("users.name"), t("users.role"), t("users.created"), ""].map((h) => el("th", {}, h)))),
        el(
          "tbody",
          {},
          users.map((u) =>
            el("tr", { "data-user": u.name },
              el("td", {}, u.name, u.name === user().name ? " (" + t("users.self") + ")" : ""),
              el("td", {}, roleSelect(u)),
              el("td", {}, when(u.created_at)),
              el("td", {}, revoke(u)))),
        ),
      ),
    ),
    form,
  );
}
