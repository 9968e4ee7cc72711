// main.js: starts the console: language, sign-in, the navigation, and the
// router that maps the address's #fragment to a page.

import { el, put, byId } from "./dom.js";
import { get, ApiError } from "./api.js";
import { token, keep, signOut, user, setUser, isAdmin } from "./auth.js";
import { initLang, toggleLang, t } from "./i18n.js";
import { errorNotice } from "./view.js";
import { ticketsPage } from "./tickets.js";
import { ticketPage } from "./ticket.js";
import { submitPage } from "./submit.js";
import { appsPage, appPage } from "./apps.js";
import { usersPage } from "./users.js";
import { statsPage } from "./stats.js";
import { schedulesPage } from "./schedules.js";
import { notifyPage } from "./notify.js";

// Each render gets a generation number: a page's timers stop when the
// generation moves on (another page, a sign-out).
let generation = 0;

function parseHash() {
  const h = location.hash.replace(/^#\/?/, "");
  const [path, q] = h.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, query: new URLSearchParams(q || "") };
}

function nav() {
  const here = parseHash().parts[0] || "tickets";
  const link = (href, key, name) =>
    el("a", { href, id: "nav-" + name, class: here === name ? "here" : null }, t(key));
  put(
    byId("nav"),
    user() ? link("#/tickets", "nav.tickets", "tickets") : null,
    user() ? link("#/submit", "nav.submit", "submit") : null,
    user() ? link("#/apps", "nav.apps", "apps") : null,
    user() ? link("#/schedules", "nav.schedules", "schedules") : null,
    isAdmin() ? link("#/stats", "nav.stats", "stats") : null,
    user() ? link("#/notify", "nav.notify", "notify") : null,
    isAdmin() ? link("#/users", "nav.users", "users") : null,
  );
  const u = user();
  put(
    byId("who"),
    u ? el("span", { id: "me" }, u.name + " · " + t("role." + u.role) + " ") : null,
    u ? el("button", { type: "button", class: "link", id: "signout", onclick: doSignOut }, t("signout")) : null,
  );
  byId("lang").textContent = t("lang");
  document.title = t("app.title");
}

function doSignOut() {
  signOut();
  // Back to the tickets page without a hashchange event: one render, so the
  // sign-in form is not replaced while someone types into it.
  history.replaceState(null, "", "#/tickets");
  render();
}

function signInPage(main, message) {
  const input = el("input", { id: "token", type: "password", autocomplete: "off", spellcheck: "false", placeholder: "rdbs_…" });
  const err = el("p", { class: "error", id: "signin-error" }, message || "");
  const form = el(
    "form",
    { class: "card signin", id: "signin" },
    el("h1", {}, t("signin.title")),
    el("label", { for: "token" }, t("signin.token")),
    input,
    err,
    el("p", { class: "muted" }, t("signin.help")),
    el("button", { type: "submit", class: "primary", id: "signin-go" }, t("signin.go")),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const value = input.value.trim();
    if (!value) return;
    keep(value);
    input.value = "";
    try {
      setUser(await get("/me"));
      render();
    } catch (ex) {
      signOut();
      err.textContent = ex instanceof ApiError && ex.status === 401 ? t("signin.bad") : ex.message;
    }
  });
  put(main, form);
  input.focus();
}

async function render() {
  const gen = ++generation;
  const main = byId("main");
  if (!user() && token()) {
    try {
      setUser(await get("/me"));
    } catch (ex) {
      signOut();
      if (!(ex instanceof ApiError && ex.status === 401)) put(main, errorNotice(ex));
    }
  }
  nav();
  if (!user()) {
    signInPage(main);
    return;
  }
  const { parts, query } = parseHash();
  const live = () => gen === generation;
  put(main, el("p", { class: "muted" }, "…"));
  try {
    switch (parts[0] || "tickets") {
      case "ticket":
        await ticketPage(main, Number(parts[1]), live);
        break;
      case "submit":
        await submitPage(main, parts[1] || "", live);
        break;
      case "apps":
        await (parts[1] ? appPage(main, parts[1], live) : appsPage(main, live));
        break;
      case "users":
        await usersPage(main, live);
        break;
      case "schedules":
        await schedulesPage(main, live);
        break;
      case "stats":
        await statsPage(main, query, live);
        break;
      case "notify":
        await notifyPage(main, live);
        break;
      default:
        await ticketsPage(main, query, live);
    }
  } catch (ex) {
    if (ex instanceof ApiError && ex.status === 401) {
      signOut();
      nav();
      signInPage(main, t("signin.bad"));
      return;
    }
    if (live()) put(main, errorNotice(ex));
  }
}

window.addEventListener("hashchange", render);
initLang();
byId("lang").addEventListener("click", () => {
  toggleLang();
  render();
});
render();
