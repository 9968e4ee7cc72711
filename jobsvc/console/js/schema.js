// schema.js: form fields made from the API's OpenAPI schemas, so a form has
// exactly the fields the API knows. Each field reads back its JSON value
// (undefined when left empty: the API then applies its default) and can show
// the API's error message.

import { el, append } from "./dom.js";
import { t } from "./i18n.js";

let components = {};

/** Sets the document's `components.schemas` that `$ref`s point into. */
export function useComponents(schemas) {
  components = schemas || {};
}

function resolve(s) {
  let seen = 0;
  while (s && s.$ref && seen++ < 10) s = components[s.$ref.replace("#/components/schemas/", "")] || {};
  return s || {};
}

/** The schema without its "or null" alternative, and whether null is allowed. */
function strip(schema) {
  let s = resolve(schema);
  let nullable = false;
  const alts = s.oneOf || s.anyOf;
  if (alts) {
    const rest = alts.filter((a) => resolve(a).type !== "null");
    if (rest.length < alts.length) nullable = true;
    if (rest.length === 1) s = { ...resolve(rest[0]), description: s.description || resolve(rest[0]).description, default: s.default };
  }
  if (Array.isArray(s.type) && s.type.includes("null")) {
    nullable = true;
    const types = s.type.filter((x) => x !== "null");
    s = { ...s, type: types.length === 1 ? types[0] : types };
  }
  return { s, nullable };
}

/** Alternatives that are each an object of one required property (a Pattern). */
function singleKeyAlternatives(s) {
  const alts = (s.oneOf || s.anyOf || []).map(resolve);
  if (!alts.length) return null;
  const keys = alts.map((a) => (a.type === "object" && a.properties && Object.keys(a.properties).length === 1 ? Object.keys(a.properties)[0] : null));
  return keys.every(Boolean) ? keys : null;
}

function kind(s) {
  if (Array.isArray(s.enum) && s.enum.every((v) => typeof v === "string")) return "enum";
  if (singleKeyAlternatives(s)) return "choice";
  if (s.type === "string") return "string";
  if (s.type === "integer" || s.type === "number") return "number";
  if (s.type === "boolean") return "boolean";
  if (s.type === "object" && s.properties) return "object";
  if (s.type === "array") {
    const items = strip(s.items || {}).s;
    if (items.type === "integer" || items.type === "string") return "list";
    if (singleKeyAlternatives(items)) return "choices";
  }
  return "json";
}

const fid = (path) => "p-" + path.join("-");

function wrap(path, label, help, control, opts = {}) {
  const err = el("div", { class: "field-error", id: "err-" + path.join("-"), role: "alert" });
  const node = el(
    "div",
    { class: "field", "data-field": path.join(".") },
    opts.inline ? null : el("label", { for: fid(path) }, label, opts.required ? " *" : ""),
    control,
    help ? el("div", { class: "help" }, help) : null,
    err,
  );
  return {
    node,
    setError(msg) {
      err.textContent = msg || "";
      node.classList.toggle("has-error", Boolean(msg));
    },
  };
}

function defaultText(s) {
  return s.default === undefined ? t("s.unset") : typeof s.default === "object" ? JSON.stringify(s.default) : String(s.default);
}

/**
 * A field for `schema` at `path` (e.g. ["source", "app"]). Returns
 * {node, read() → value | undefined, fields: [[path, field]…], setError}.
 * `read` throws an Error naming the field when the input is malformed.
 */
export function field(schema, path, required, hints) {
  const { s } = strip(schema);
  const name = path[path.length - 1];
  const help = s.description || "";
  const k = kind(s);
  const id = fid(path);
  let f;
  if (k === "object") {
    const req = new Set(s.required || []);
    // Required fields first, then the others, each in the document's order.
    const names = Object.keys(s.properties).sort((a, b) => Number(req.has(b)) - Number(req.has(a)));
    const subs = names.map((p) => field(s.properties[p], [...path, p], req.has(p), hints));
    const node = el("fieldset", { "data-field": path.join("."), id }, el("legend", {}, name + (required ? " *" : "")), help ? el("div", { class: "help" }, help) : null, subs.map((x) => x.node));
    return {
      node,
      fields: subs.flatMap((x) => x.fields),
      setError() {},
      read() {
        const out = {};
        for (const [i, p] of names.entries()) {
          const v = subs[i].read();
          if (v !== undefined) out[p] = v;
        }
        return Object.keys(out).length || required ? out : undefined;
      },
    };
  }
  if (k === "boolean") {
    const box = el("input", { type: "checkbox", id, name: path.join("."), checked: s.default === true });
    f = wrap(path, name, help, el("label", { class: "inline", for: id }, box, name), { inline: true });
    f.read = () => (box.checked === (s.default === true) && !required ? undefined : box.checked);
  } else if (k === "enum") {
    const sel = el(
      "select",
      { id, name: path.join(".") },
      el("option", { value: "" }, required ? "" : t("s.unset") + (s.default !== undefined ? " " + defaultText(s) : "")),
      s.enum.map((v) => el("option", { value: v }, v)),
    );
    f = wrap(path, name, help, sel, { required });
    f.read = () => (sel.value === "" ? undefined : sel.value);
  } else if (k === "string" || k === "number") {
    const attrs = { id, name: path.join("."), type: k === "number" ? "number" : "text", placeholder: required ? "" : defaultText(s), autocomplete: "off" };
    if (k === "number") {
      attrs.step = s.type === "integer" ? "1" : "any";
      if (s.minimum !== undefined) attrs.min = s.minimum;
    }
    if (k === "string" && hints && hints.appNames && (name === "app" || name === "target")) attrs.list = "app-names";
    const input = el("input", attrs);
    f = wrap(path, name, help, input, { required });
    f.read = () => {
      const v = input.value.trim();
      if (v === "") return undefined;
      if (k === "number") {
        const n = Number(v);
        if (!isFinite(n)) throw fieldError(path, t("s.bad.number"));
        return n;
      }
      return v;
    };
  } else if (k === "list") {
    const items = strip(s.items || {}).s;
    const input = el("input", { id, name: path.join("."), type: "text", placeholder: s.default !== undefined ? defaultText(s) : "1, 2, 3", autocomplete: "off" });
    f = wrap(path, name, help + (help ? " " : "") + "(a, b, …)", input, { required });
    f.read = () => {
      const v = input.value.trim();
      if (v === "") return undefined;
      const parts = v.split(/[\s,]+/).filter(Boolean);
      if (items.type === "integer") {
        const ns = parts.map(Number);
        if (ns.some((n) => !Number.isInteger(n))) throw fieldError(path, t("s.bad.number"));
        return ns;
      }
      return parts;
    };
  } else if (k === "choices" || k === "choice") {
    const keys = singleKeyAlternatives(k === "choice" ? s : strip(s.items).s);
    const rows = el("div", { class: "rows", id });
    const addRow = () => {
      const i = rows.children.length;
      const sel = el("select", { id: fid([...path, i, "kind"]), "aria-label": name }, keys.map((x) => el("option", { value: x }, x)));
      const val = el("input", { id: fid([...path, i, "value"]), type: "text", autocomplete: "off", "aria-label": name });
      const row = el("div", { class: "row" }, sel, val);
      if (k === "choices") append(row, [el("button", { type: "button", class: "link", onclick: () => row.remove() }, t("s.remove"))]);
      rows.appendChild(row);
    };
    addRow();
    const more = k === "choices" ? el("button", { type: "button", id: fid([...path, "add"]), onclick: addRow }, t("s.add")) : null;
    f = wrap(path, name, help, el("div", {}, rows, more), { required });
    f.read = () => {
      const vals = [...rows.children]
        .map((r) => [r.querySelector("select").value, r.querySelector("input").value])
        .filter(([, v]) => v !== "")
        .map(([kk, v]) => ({ [kk]: v }));
      if (k === "choice") return vals[0];
      return vals.length ? vals : undefined;
    };
  } else {
    const area = el("textarea", { id, name: path.join("."), rows: 2, placeholder: s.default !== undefined ? defaultText(s) : "JSON", spellcheck: "false" });
    f = wrap(path, name, help + (help ? " " : "") + "(" + t("s.json") + ")", area, { required });
    f.read = () => {
      const v = area.value.trim();
      if (v === "") return undefined;
      try {
        return JSON.parse(v);
      } catch (e) {
        throw fieldError(path, t("s.bad.json", e.message));
      }
    };
  }
  f.fields = [[path, f]];
  return f;
}

function fieldError(path, message) {
  const e = new Error(message);
  e.fieldPath = path.join(".");
  return e;
}

/**
 * The field an API message concerns: the longest field name (or dotted
 * path) that the message names as a word, else null.
 */
export function fieldOf(message, fields) {
  const words = new Set(String(message).toLowerCase().match(/[a-z0-9_]+/g) || []);
  let best = null;
  for (const [path, f] of fields) {
    for (let i = path.length - 1; i >= 0; i--) {
      const name = String(path[i]).toLowerCase();
      if (!words.has(name)) continue;
      const score = path.slice(i).join(".").length + (i === path.length - 1 ? 100 : 0);
      if (!best || score > best.score) best = { f, score };
    }
  }
  return best ? best.f : null;
}
