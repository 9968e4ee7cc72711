// i18n.js: the console's words in English and Simplified Chinese (the ticket
// vocabulary CacheCloud's users know: 待审, 处理中, 通过, 驳回). The language
// comes from the browser, or from the switch (remembered in this tab).

const EN = {
  "app.title": "rdbscope console",
  "nav.tickets": "Tickets", "nav.submit": "New ticket", "nav.apps": "Apps and nodes", "nav.users": "Users",
  "signin.title": "Sign in", "signin.token": "Your token (rdbs_…)", "signin.go": "Sign in",
  "signin.help": "Ask an admin for a token (rdbscope user add NAME). It is kept in this tab only.",
  "signin.bad": "This token is not valid.", "signout": "Sign out",
  "state.pending": "pending", "state.approved": "approved", "state.running": "in progress",
  "state.succeeded": "done", "state.failed": "failed", "state.cancelled": "cancelled", "state.rejected": "rejected",
  "state.returned": "returned",
  "type.analysis": "analysis", "type.hotkeys": "hot keys", "type.cleanup": "cleanup", "type.migration": "migration", "type.restore": "restore",
  "role.admin": "admin", "role.submitter": "submitter",
  "summary.title": "Ticket handling", "summary.total": "all tickets", "summary.waiting": "waiting for me",
  "summary.bytype": "By type",
  "list.title": "Tickets", "list.none": "No tickets match.", "list.any": "any",
  "f.state": "State", "f.type": "Type", "f.app": "App", "f.submitter": "Submitter", "f.since": "From", "f.until": "To",
  "f.apply": "Filter", "f.reset": "Reset",
  "col.id": "#", "col.type": "Type", "col.state": "State", "col.app": "App", "col.submitter": "Submitter",
  "col.handler": "Handler", "col.created": "Filed", "col.progress": "Progress",
  "page.prev": "Newer", "page.next": "Older", "page.of": "{0}–{1} of {2}",
  "t.title": "Ticket #{0}", "t.params": "Parameters", "t.plan": "Plan", "t.progress": "Progress",
  "t.result": "Result", "t.audit": "Audit trail", "t.reports": "Report files", "t.report": "Report",
  "t.submitter": "Submitter", "t.handler": "Handler", "t.state": "State", "t.type": "Type", "t.created": "Filed",
  "t.updated": "Updated", "t.attempts": "Attempts", "t.hash": "Params hash", "t.error": "Error",
  "t.reason": "Rejected because", "t.phase": "Phase", "t.paused": "Paused", "t.counters": "Counters",
  "t.noplan": "No plan.", "t.noreport": "No report files yet.", "t.download": "download",
  "t.notfound": "Ticket #{0} does not exist or is not yours (the service answered {1}).",
  "t.live": "updates live",
  "plan.keys": "Keys", "plan.bytes": "Memory", "plan.eta": "ETA", "plan.masters": "Masters touched",
  "plan.samples": "Sample keys", "plan.source": "Counted from", "plan.all": "The whole plan",
  "plan.action": "Action", "plan.note": "Note", "plan.rollback": "Rollback",
  "audit.at": "Time", "audit.actor": "Actor", "audit.change": "From → to", "audit.note": "Note",
  "plan.risk": "Risk", "risk.low": "low", "risk.medium": "medium", "risk.high": "high", "risk.critical": "critical",
  "t.approvals": "Approvals", "ap.none": "No approval records.", "ap.round": "Round", "ap.needs": "Needs",
  "ap.state": "State", "ap.by": "By", "ap.note": "Note", "ap.for": "for {0}", "ap.anyadmin": "any admin",
  "ap.s.pending": "pending", "ap.s.approved": "approved", "ap.s.returned": "returned", "ap.s.rejected": "rejected", "ap.s.void": "void",
  "a.return": "Return for changes", "a.amend": "Amend", "a.resubmit": "Resubmit",
  "a.sure.return": "Return ticket #{0} to its submitter?", "a.sure.amend": "Amend ticket #{0}'s parameters?",
  "a.sure.resubmit": "Resubmit ticket #{0} for approval?", "a.params": "Parameters (JSON, required)",
  "a.returnnote": "What to change (required)", "a.badjson": "Not JSON: {0}",
  "a.approve": "Approve", "a.reject": "Reject", "a.cancel": "Cancel ticket", "a.rollback": "Roll back (file a restore ticket)", "a.note": "Note (optional)",
  "a.reason": "Reason (required)", "a.confirm": "Confirm", "a.back": "Back",
  "a.destructive": "This ticket changes data on live nodes ({0}). Are you sure?",
  "a.sure.approve": "Approve ticket #{0}?", "a.sure.reject": "Reject ticket #{0}?", "a.sure.cancel": "Cancel ticket #{0}?", "a.sure.rollback": "File a restore ticket that puts back what ticket #{0} deleted or changed?",
  "a.reason.missing": "A rejection needs a reason.",
  "a.retry": "Failed tickets are retried by the scheduler while attempts remain; submit a new ticket to run it again.",
  "s.title": "New ticket", "s.type": "Ticket type", "s.preview": "Preview the plan", "s.submit": "Submit",
  "s.edit": "Change parameters", "s.planhead": "The plan an admin will judge",
  "s.done": "Ticket #{0} filed.", "s.json": "JSON", "s.add": "Add", "s.remove": "Remove",
  "s.unset": "(default)", "s.bad.json": "Not valid JSON: {0}", "s.bad.number": "Not a number",
  "s.form.error": "The service refused the parameters:",
  "apps.title": "Apps and nodes", "apps.none": "No apps registered yet.", "apps.kind": "Kind", "apps.addr": "Address",
  "apps.nodes": "Nodes", "apps.window": "Maintenance window", "apps.refreshed": "Last refresh",
  "apps.refresh": "Refresh topology", "apps.delete": "Remove app", "apps.add": "Register an app",
  "apps.name": "Name", "apps.user": "ACL user", "apps.password": "Password", "apps.any": "any time",
  "apps.sure.delete": "Remove app {0}? Its tickets stay.", "apps.role": "Role", "apps.master": "Master",
  "apps.slots": "Slots", "apps.password.set": "a password is stored",
  "n.title": "Notifications", "n.channels": "Channels", "n.mine": "My subscriptions", "n.outbox": "Recent deliveries",
  "n.name": "Name", "n.kind": "Kind", "n.source": "Defined in", "n.events": "Events", "n.health": "Health", "n.sent": "Sent",
  "n.health.ok": "ok", "n.health.failing": "failing", "n.health.unused": "unused",
  "n.subscribe": "Subscribe", "n.unsubscribe": "Unsubscribe", "n.channel": "Channel", "n.address": "E-mail address (e-mail channels)",
  "n.nosubs": "No subscriptions yet.", "n.nochannels": "No channels yet: an admin adds them.",
  "n.addchannel": "Add or replace a channel", "n.secret": "Secret (signature, DingTalk signing)",
  "n.ownevents": "Events of every ticket (comma-separated, optional)", "n.save": "Save",
  "n.nodeliveries": "Nothing sent yet.", "n.ticket": "Ticket", "n.event": "Event", "n.state": "State",
  "n.attempts": "Attempts", "n.next": "Next try", "n.error": "Last error", "nav.notify": "Notifications",
  "users.title": "Users", "users.add": "Add a user", "users.name": "Name", "users.role": "Role",
  "users.created": "Created", "users.setrole": "Change role", "users.revoke": "Revoke token",
  "users.token": "The token of {0}, shown this once: hand it over now.",
  "users.sure.revoke": "Revoke the token of {0}? The old one stops working at once; a new one is shown once.",
  "users.self": "you",
  "stats.title": "Statistics", "stats.period": "Tickets filed {0} to {1}: {2}", "stats.times": "Handling times",
  "stats.tickets": "Tickets", "stats.median": "Median", "stats.p90": "p90",
  "stats.time_to_approval": "to the first approval", "stats.time_to_completion": "to the end of the run",
  "stats.rates": "Rejected {0} ({1} of decided), failed {2} ({3} of finished runs)", "stats.perapp": "Per app",
  "stats.deleted": "Keys deleted", "stats.expired": "Keys expired", "stats.migrated": "Keys migrated",
  "stats.analyzed": "Bytes analyzed",
  "sched.title": "Schedules", "sched.none": "No schedules yet.", "sched.name": "Name", "sched.cron": "Cron (UTC)",
  "sched.keep": "Reports kept", "sched.last": "Last run", "sched.next": "Next run", "sched.off": "disabled",
  "sched.enable": "Enable", "sched.disable": "Disable", "sched.delete": "Delete", "sched.add": "Add a schedule",
  "sched.sure.delete": "Delete schedule {0}? Its tickets and kept reports stay.",
  "sched.cron.help": "5 fields: minute hour day month weekday, e.g. 0 3 * * * is daily at 03:00 UTC.",
  "nav.stats": "Statistics", "nav.schedules": "Schedules",
  "err.403": "Not allowed: {0}", "err.404": "Not found: {0}", "err.generic": "Error: {0}",
  "err.load": "Could not load: {0}",
  "yes": "yes", "no": "no", "none": "—", "lang": "中文",
};

const ZH = {
  "app.title": "rdbscope 控制台",
  "nav.tickets": "工单", "nav.submit": "提交工单", "nav.apps": "应用与节点", "nav.users": "用户",
  "signin.title": "登录", "signin.token": "你的令牌 (rdbs_…)", "signin.go": "登录",
  "signin.help": "向管理员索取令牌 (rdbscope user add NAME)。令牌只保存在本标签页中。",
  "signin.bad": "令牌无效。", "signout": "退出",
  "state.pending": "待审", "state.approved": "已批准", "state.running": "处理中",
  "state.succeeded": "通过", "state.failed": "失败", "state.cancelled": "已取消", "state.rejected": "驳回",
  "state.returned": "退回",
  "type.analysis": "键值分析", "type.hotkeys": "热点键", "type.cleanup": "数据清理", "type.migration": "数据迁移", "type.restore": "数据恢复",
  "role.admin": "管理员", "role.submitter": "提交人",
  "summary.title": "工单处理统计", "summary.total": "全部工单", "summary.waiting": "待我审批",
  "summary.bytype": "按类型",
  "list.title": "工单列表", "list.none": "没有符合条件的工单。", "list.any": "全部",
  "f.state": "状态", "f.type": "类型", "f.app": "应用", "f.submitter": "提交人", "f.since": "开始日期", "f.until": "结束日期",
  "f.apply": "筛选", "f.reset": "重置",
  "col.id": "#", "col.type": "类型", "col.state": "状态", "col.app": "应用", "col.submitter": "提交人",
  "col.handler": "处理人", "col.created": "提交时间", "col.progress": "进度",
  "page.prev": "较新", "page.next": "较旧", "page.of": "第 {0}–{1} 条，共 {2} 条",
  "t.title": "工单 #{0}", "t.params": "参数", "t.plan": "执行计划", "t.progress": "进度",
  "t.result": "结果", "t.audit": "审计记录", "t.reports": "报告文件", "t.report": "报告",
  "t.submitter": "提交人", "t.handler": "处理人", "t.state": "状态", "t.type": "类型", "t.created": "提交时间",
  "t.updated": "更新时间", "t.attempts": "尝试次数", "t.hash": "参数哈希", "t.error": "错误",
  "t.reason": "驳回原因", "t.phase": "阶段", "t.paused": "已暂停", "t.counters": "计数",
  "t.noplan": "没有执行计划。", "t.noreport": "还没有报告文件。", "t.download": "下载",
  "t.notfound": "工单 #{0} 不存在或不属于你（服务返回 {1}）。",
  "t.live": "实时更新",
  "plan.keys": "键数", "plan.bytes": "内存", "plan.eta": "预计耗时", "plan.masters": "涉及主节点",
  "plan.samples": "示例键", "plan.source": "统计来源", "plan.all": "完整计划",
  "plan.action": "操作", "plan.note": "说明", "plan.rollback": "回滚",
  "audit.at": "时间", "audit.actor": "操作人", "audit.change": "状态变化", "audit.note": "备注",
  "plan.risk": "风险", "risk.low": "低", "risk.medium": "中", "risk.high": "高", "risk.critical": "严重",
  "t.approvals": "审批", "ap.none": "没有审批记录。", "ap.round": "轮次", "ap.needs": "审批人",
  "ap.state": "状态", "ap.by": "处理人", "ap.note": "备注", "ap.for": "代 {0}", "ap.anyadmin": "任一管理员",
  "ap.s.pending": "待审", "ap.s.approved": "通过", "ap.s.returned": "退回", "ap.s.rejected": "驳回", "ap.s.void": "作废",
  "a.return": "退回修改", "a.amend": "修改参数", "a.resubmit": "重新提交",
  "a.sure.return": "将工单 #{0} 退回给提交人？", "a.sure.amend": "修改工单 #{0} 的参数？",
  "a.sure.resubmit": "重新提交工单 #{0} 审批？", "a.params": "参数（JSON，必填）",
  "a.returnnote": "需要修改什么（必填）", "a.badjson": "不是 JSON：{0}",
  "a.approve": "通过", "a.reject": "驳回", "a.cancel": "取消工单", "a.rollback": "回滚（提交恢复工单）", "a.note": "备注（可选）",
  "a.reason": "原因（必填）", "a.confirm": "确认", "a.back": "返回",
  "a.destructive": "此工单会修改线上节点的数据（{0}）。确定吗？",
  "a.sure.approve": "通过工单 #{0}？", "a.sure.reject": "驳回工单 #{0}？", "a.sure.cancel": "取消工单 #{0}？", "a.sure.rollback": "提交恢复工单，恢复工单 #{0} 删除或修改的数据？",
  "a.reason.missing": "驳回必须填写原因。",
  "a.retry": "失败的工单在尚有重试次数时由调度器自动重试；如需再次执行请提交新工单。",
  "s.title": "提交工单", "s.type": "工单类型", "s.preview": "预览执行计划", "s.submit": "提交",
  "s.edit": "修改参数", "s.planhead": "管理员将审核的执行计划",
  "s.done": "工单 #{0} 已提交。", "s.json": "JSON", "s.add": "添加", "s.remove": "删除",
  "s.unset": "（默认）", "s.bad.json": "不是合法的 JSON：{0}", "s.bad.number": "不是数字",
  "s.form.error": "服务拒绝了这些参数：",
  "apps.title": "应用与节点", "apps.none": "还没有注册应用。", "apps.kind": "类型", "apps.addr": "地址",
  "apps.nodes": "节点", "apps.window": "维护窗口", "apps.refreshed": "最近刷新",
  "apps.refresh": "刷新拓扑", "apps.delete": "删除应用", "apps.add": "注册应用",
  "apps.name": "名称", "apps.user": "ACL 用户", "apps.password": "密码", "apps.any": "任意时间",
  "apps.sure.delete": "删除应用 {0}？其工单会保留。", "apps.role": "角色", "apps.master": "主节点",
  "apps.slots": "槽位", "apps.password.set": "已保存密码",
  "n.title": "通知", "n.channels": "通知渠道", "n.mine": "我的订阅", "n.outbox": "最近的投递",
  "n.name": "名称", "n.kind": "类型", "n.source": "定义于", "n.events": "事件", "n.health": "状态", "n.sent": "已发送",
  "n.health.ok": "正常", "n.health.failing": "失败中", "n.health.unused": "未使用",
  "n.subscribe": "订阅", "n.unsubscribe": "取消订阅", "n.channel": "渠道", "n.address": "邮箱地址（邮件渠道）",
  "n.nosubs": "还没有订阅。", "n.nochannels": "还没有渠道：由管理员添加。",
  "n.addchannel": "添加或替换渠道", "n.secret": "密钥（签名、钉钉加签）",
  "n.ownevents": "所有工单的事件（逗号分隔，可选）", "n.save": "保存",
  "n.nodeliveries": "还没有发送。", "n.ticket": "工单", "n.event": "事件", "n.state": "状态",
  "n.attempts": "尝试次数", "n.next": "下次尝试", "n.error": "最近错误", "nav.notify": "通知",
  "users.title": "用户", "users.add": "添加用户", "users.name": "名称", "users.role": "角色",
  "users.created": "创建时间", "users.setrole": "修改角色", "users.revoke": "吊销令牌",
  "users.token": "{0} 的令牌只显示这一次：请立即交给对方。",
  "users.sure.revoke": "吊销 {0} 的令牌？旧令牌立即失效；新令牌只显示一次。",
  "users.self": "你",
  "stats.title": "统计", "stats.period": "{0} 至 {1} 提交的工单：{2}", "stats.times": "处理时长",
  "stats.tickets": "工单数", "stats.median": "中位数", "stats.p90": "p90",
  "stats.time_to_approval": "到首次审批", "stats.time_to_completion": "到执行结束",
  "stats.rates": "驳回 {0}（占已审批的 {1}），失败 {2}（占已执行的 {3}）", "stats.perapp": "按应用",
  "stats.deleted": "删除的键", "stats.expired": "设置过期的键", "stats.migrated": "迁移的键",
  "stats.analyzed": "分析的字节",
  "sched.title": "定时任务", "sched.none": "还没有定时任务。", "sched.name": "名称", "sched.cron": "Cron（UTC）",
  "sched.keep": "保留报告数", "sched.last": "上次执行", "sched.next": "下次执行", "sched.off": "已停用",
  "sched.enable": "启用", "sched.disable": "停用", "sched.delete": "删除", "sched.add": "添加定时任务",
  "sched.sure.delete": "删除定时任务 {0}？其工单和保留的报告不会删除。",
  "sched.cron.help": "5 个字段：分 时 日 月 周，例如 0 3 * * * 表示每天 UTC 03:00。",
  "nav.stats": "统计", "nav.schedules": "定时任务",
  "err.403": "无权操作：{0}", "err.404": "未找到：{0}", "err.generic": "错误：{0}",
  "err.load": "加载失败：{0}",
  "yes": "是", "no": "否", "none": "—", "lang": "English",
};

const LANGS = { en: EN, zh: ZH };
const PICK = "rdbscope.lang";
let lang = "en";

/** Chooses the language: the switch's choice, else the browser's. */
export function initLang() {
  let chosen = "";
  try {
    chosen = localStorage.getItem(PICK) || "";
  } catch {
    /* no storage */
  }
  const nav = (navigator.languages && navigator.languages[0]) || navigator.language || "en";
  lang = LANGS[chosen] ? chosen : nav.toLowerCase().startsWith("zh") ? "zh" : "en";
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  return lang;
}

export function currentLang() {
  return lang;
}

/** Switches to the other language (remembered). */
export function toggleLang() {
  lang = lang === "en" ? "zh" : "en";
  try {
    localStorage.setItem(PICK, lang);
  } catch {
    /* no storage */
  }
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
}

/** The words for `key`, with {0}, {1}… replaced by `args`. */
export function t(key, ...args) {
  const s = LANGS[lang][key] ?? EN[key] ?? key;
  return s.replace(/\{(\d+)\}/g, (_, i) => String(args[Number(i)] ?? ""));
}

/** Every key of both dictionaries (the test checks that they match). */
export function keys() {
  return { en: Object.keys(EN), zh: Object.keys(ZH) };
}
