// submit.js: the submit forms of the four ticket types, made from the API's
// OpenAPI document (the parameter schema of each type), with the plan
// previewed by the API before the final submit and the API's 4xx message
// shown at the field it concerns.

import { el, put } from "./dom.js";
import { get, post } from "./api.js";
import { t } from "./i18n.js";
import { TYPES, typeName, json, errorNotice } from "./view.js";
import { field, fieldOf, useComponents } from "./schema.js";
import { planView } from "./ticket.js";

let doc = null;

async function openapi() {
  if (!doc) doc = await get("/openapi.json");
  return doc;
}

/** The parameter schema of ticket type `type` (`cleanup` → `CleanupParams`). */
function paramSchema(d, type) {
  const name = type.charAt(0).toUpperCase() + type.slice(1) + "Params";
  return d.components.schemas[name];
}

/** The ticket types the document lists. */
function typesOf(d) {
  const e = d.components.schemas.TicketType;
  return e && Array.isArray(e.enum) ? e.enum : TYPES;
}

function randomKey() {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return "console-" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export async function submitPage(main, type, live) {
  const [d, apps] = await Promise.all([openapi(), get("/apps").catch(() => [])]);
  if (!live()) return;
  useComponents(d.components.schemas);
  const types = typesOf(d);
  const chooser = el(
    "div",
    { class: "actions", id: "types" },
    types.map((k) => el("a", { class: "button" + (k === type ? " primary" : ""), id: "type-" + k, href: "#/submit/" + k }, typeName(k))),
  );
  if (!types.includes(type)) {
    put(main, el("h1", {}, t("s.title")), el("p", {}, t("s.type")), chooser);
    return;
  }
  const schema = paramSchema(d, type);
  const root = field(schema, [], true, { appNames: true });
  const fields = root.fields;
  const formError = el("div", { id: "form-error" });
  const preview = el("div", { id: "preview" });
  const form = el(
    "form",
    { class: "card", id: "submit-form", "data-type": type, novalidate: true },
    el("datalist", { id: "app-names" }, apps.map((a) => el("option", { value: a.name }))),
    root.node,
    formError,
    el("div", { class: "actions" }, el("button", { type: "submit", class: "primary", id: "preview-plan" }, t("s.preview"))),
  );
  // The root object's fieldset legend would be empty: the type names it.
  const legend = root.node.querySelector("legend");
  if (legend) legend.textContent = typeName(type);

  const clearErrors = () => {
    for (const [, f] of fields) f.setError("");
    put(formError);
  };
  const showError = (ex) => {
    const target = ex.fieldPath ? fields.find(([p]) => p.join(".") === ex.fieldPath)?.[1] : fieldOf(ex.message, fields);
    if (target) {
      target.setError(ex.message);
      target.node.scrollIntoView({ block: "center" });
    }
    put(formError, el("div", { class: "notice bad api-error", "data-status": ex.status ? String(ex.status) : "" }, t("s.form.error") + " " + ex.message));
  };
  let idempotency = randomKey();
  form.addEventListener("input", () => {
    // Other parameters: another ticket.
    idempotency = randomKey();
    put(preview);
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors();
    put(preview);
    let params;
    try {
      params = root.read() || {};
    } catch (ex) {
      showError(ex);
      return;
    }
    const button = form.querySelector("#preview-plan");
    button.disabled = true;
    try {
      const plan = await post("/tickets/plan", { type, params });
      if (!live()) return;
      const go = el("button", { type: "button", class: "primary", id: "submit-ticket" }, t("s.submit"));
      const status = el("div", { id: "submit-status" });
      go.addEventListener("click", async () => {
        go.disabled = true;
        try {
          const tk = await post("/tickets", { type, params, idempotency_key: idempotency });
          location.hash = "#/ticket/" + tk.id;
        } catch (ex) {
          go.disabled = false;
          put(preview);
          showError(ex);
          put(status, errorNotice(ex));
        }
      });
      put(
        preview,
        el("h2", {}, t("s.planhead")),
        el("section", { class: "card" }, planView({ plan: plan.plan, params_hash: plan.params_hash })),
        el("details", {}, el("summary", {}, t("t.params")), json(plan.params)),
        el("div", { class: "actions" }, go, el("button", { type: "button", id: "edit-params", onclick: () => put(preview) }, t("s.edit"))),
        status,
      );
      preview.scrollIntoView({ block: "start" });
    } catch (ex) {
      if (ex.status === 401) throw ex;
      showError(ex);
    } finally {
      button.disabled = false;
    }
  });
  put(main, el("h1", {}, t("s.title") + ": " + typeName(type)), chooser, form, preview);
}
