// api.js: calls to the service's JSON API on this origin, with the token in
// the Authorization header. A failed call throws an ApiError carrying the
// status and the API's `{"error": "…"}` message.

import { token } from "./auth.js";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function headers(extra) {
  const h = { Accept: "application/json", ...extra };
  const t = token();
  if (t) h.Authorization = "Bearer " + t;
  return h;
}

async function failure(resp) {
  let message = resp.status + " " + resp.statusText;
  try {
    const body = await resp.json();
    if (body && typeof body.error === "string") message = body.error;
  } catch {
    /* not JSON: keep the status line */
  }
  return new ApiError(resp.status, message);
}

/** Calls `method path` with an optional JSON body; resolves to {body, headers}. */
export async function call(method, path, body) {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const resp = await fetch(path, init);
  if (!resp.ok) throw await failure(resp);
  const text = resp.status === 204 ? "" : await resp.text();
  return { body: text ? JSON.parse(text) : null, headers: resp.headers };
}

export const get = async (path) => (await call("GET", path)).body;
export const post = async (path, body) => (await call("POST", path, body === undefined ? {} : body)).body;
export const patch = async (path, body) => (await call("PATCH", path, body)).body;

/** A file of the API as a Blob (a report file). */
export async function blob(path) {
  const resp = await fetch(path, { headers: headers({ Accept: "*/*" }) });
  if (!resp.ok) throw await failure(resp);
  return resp.blob();
}

/** A query string of the non-empty values of `params`. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? "?" + s : "";
}

/** A path segment, encoded. */
export const seg = (s) => encodeURIComponent(String(s));
