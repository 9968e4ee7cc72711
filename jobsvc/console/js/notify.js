// notify.js: the notifications page: the channels and their health (a
// failing one shows its last error), your subscriptions (add, remove), and
// for admins the outbox of recent deliveries and a form to add a channel,
// as the CLI's `notify` command does.

import { el, put } from "./dom.js";
import { get, post, call, seg, query } from "./api.js";
import { isAdmin } from "./auth.js";
import { t } from "./i18n.js";
import { errorNotice, when } from "./view.js";

const EVENTS = [
  "submitted", "needs_approval", "approved", "returned", "rejected", "started", "paused",
  "succeeded", "failed", "cancelled", "approval_reminder", "approval_escalation",
];
const KINDS = ["webhook", "wecom", "dingtalk", "slack", "email"];

function healthCell(h) {
  const cls = h.state === "failing" ? "badge state-failed" : h.state === "ok" ? "badge state-succeeded" : "badge";
  return el("span", {},
    el("span", { class: cls }, t("n.health." + h.state)),
    h.state === "failing" ? el("div", { class: "error small" }, h.last_error || "") : null);
}

function channelsTable(channels) {
  return el("div", { class: "scroll" }, el("table", { class: "list", id: "channels" },
    el("thead", {}, el("tr", {}, [t("n.name"), t("n.kind"), t("n.source"), t("n.events"), t("n.health"), t("n.sent")].map((h) => el("th", {}, h)))),
    el("tbody", {}, channels.map((c) => el("tr", { "data-channel": c.name },
      el("td", {}, c.name), el("td", {}, c.kind), el("td", {}, c.source),
      el("td", {}, (c.events || []).join(", ")),
      el("td", {}, healthCell(c.health)),
      el("td", {}, String(c.health.sent)))))));
}

function subscribeForm(channels, status, reload) {
  const boxes = EVENTS.map((e) => el("label", { class: "check" },
    el("input", { type: "checkbox", value: e, name: "event", checked: ["approved", "rejected", "failed", "succeeded", "needs_approval"].includes(e) }), " " + e));
  const channel = el("select", { id: "sub-channel" }, channels.map((c) => el("option", { value: c.name }, c.name + " (" + c.kind + ")")));
  const address = el("input", { id: "sub-address", type: "email", placeholder: "me@example.com" });
  const form = el("form", { class: "card", id: "subscribe" },
    el("h2", {}, t("n.subscribe")),
    el("div", { class: "checks" }, boxes),
    el("label", { for: "sub-channel" }, t("n.channel")), channel,
    el("label", { for: "sub-address" }, t("n.address")), address,
    el("div", { class: "actions" }, el("button", { type: "submit", class: "primary", id: "subscribe-go" }, t("n.subscribe"))));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const events = boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
    const body = { events, channel: channel.value };
    if (address.value.trim()) body.address = address.value.trim();
    try {
      await post("/notify/subscriptions", body);
      await reload();
    } catch (ex) {
      put(status, errorNotice(ex));
    }
  });
  return form;
}

function subsTable(subs, status, reload) {
  if (!subs.length) return el("p", { class: "muted", id: "subs-none" }, t("n.nosubs"));
  return el("table", { class: "list", id: "subs" },
    el("thead", {}, el("tr", {}, [t("n.events"), t("n.channel"), t("n.address"), ""].map((h) => el("th", {}, h)))),
    el("tbody", {}, subs.map((s) => el("tr", { "data-sub": String(s.id) },
      el("td", {}, s.events.join(", ")), el("td", {}, s.channel), el("td", {}, s.address),
      el("td", {}, el("button", {
        type: "button", class: "link", id: "unsub-" + s.id,
        onclick: async () => {
          try {
            await call("DELETE", "/notify/subscriptions/" + seg(s.id));
            await reload();
          } catch (ex) {
            put(status, errorNotice(ex));
          }
        },
      }, t("n.unsubscribe")))))));
}

function channelForm(status, reload) {
  const name = el("input", { id: "ch-name", pattern: "[A-Za-z0-9._\\-]{1,64}" });
  const kind = el("select", { id: "ch-kind" }, KINDS.map((k) => el("option", { value: k }, k)));
  const url = el("input", { id: "ch-url", placeholder: "http://…" });
  const secret = el("input", { id: "ch-secret", type: "password", autocomplete: "off" });
  const events = el("input", { id: "ch-events", placeholder: "failed,approval_escalation" });
  const host = el("input", { id: "ch-smtp-host", placeholder: "127.0.0.1" });
  const port = el("input", { id: "ch-smtp-port", type: "number", value: "25" });
  const from = el("input", { id: "ch-smtp-from", placeholder: "rdbscope@example.com" });
  const form = el("form", { class: "card", id: "channel-add" },
    el("h2", {}, t("n.addchannel")),
    el("label", { for: "ch-name" }, t("n.name")), name,
    el("label", { for: "ch-kind" }, t("n.kind")), kind,
    el("label", { for: "ch-url" }, "URL"), url,
    el("label", { for: "ch-secret" }, t("n.secret")), secret,
    el("label", { for: "ch-events" }, t("n.ownevents")), events,
    el("label", { for: "ch-smtp-host" }, "SMTP"), host, port, from,
    el("div", { class: "actions" }, el("button", { type: "submit", class: "primary", id: "channel-add-go" }, t("n.save"))));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { kind: kind.value, events: events.value.split(",").map((s) => s.trim()).filter(Boolean) };
    if (kind.value === "email") {
      body.smtp = { host: host.value.trim(), port: Number(port.value) || 25, from: from.value.trim() };
    } else {
      body.url = url.value.trim();
    }
    if (secret.value) body.secret = secret.value;
    try {
      await call("PUT", "/notify/channels/" + seg(name.value.trim()), body);
      await reload();
    } catch (ex) {
      put(status, errorNotice(ex));
    }
  });
  return form;
}

function outboxTable(deliveries) {
  if (!deliveries.length) return el("p", { class: "muted" }, t("n.nodeliveries"));
  return el("div", { class: "scroll" }, el("table", { class: "list", id: "deliveries" },
    el("thead", {}, el("tr", {}, ["#", t("n.ticket"), t("n.event"), t("n.channel"), t("n.state"), t("n.attempts"), t("n.next"), t("n.error")].map((h) => el("th", {}, h)))),
    el("tbody", {}, deliveries.map((d) => el("tr", { "data-delivery": String(d.id), class: d.state === "dead" ? "bad" : null },
      el("td", {}, String(d.id)),
      el("td", {}, el("a", { href: "#/ticket/" + d.ticket }, "#" + d.ticket)),
      el("td", {}, d.event), el("td", {}, d.channel), el("td", {}, d.state),
      el("td", {}, String(d.attempts)), el("td", {}, d.next_at ? when(d.next_at) : ""),
      el("td", { class: "error small" }, d.last_error || ""))))));
}

export async function notifyPage(main, live) {
  const [channels, subs] = await Promise.all([get("/notify/channels"), get("/notify/subscriptions")]);
  const deliveries = isAdmin() ? await get("/notify/deliveries" + query({ limit: 50 })) : null;
  if (!live()) return;
  const status = el("div", { id: "notify-status" });
  const reload = () => (live() ? notifyPage(main, live) : null);
  put(main,
    el("h1", {}, t("n.title")),
    status,
    el("h2", {}, t("n.channels")),
    channels.length ? channelsTable(channels) : el("p", { class: "muted" }, t("n.nochannels")),
    el("h2", {}, t("n.mine")),
    subsTable(subs, status, reload),
    channels.length ? subscribeForm(channels, status, reload) : null,
    isAdmin() ? el("h2", {}, t("n.outbox")) : null,
    deliveries ? outboxTable(deliveries) : null,
    isAdmin() ? channelForm(status, reload) : null,
  );
}
