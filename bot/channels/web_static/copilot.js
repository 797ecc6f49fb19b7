// Shared by the widget and the toolbar page: the copilot channel and the
// renderers of the custom.copilot payload. Text is always set with textContent.
"use strict";
const Copilot = (() => {
  const KEY = "copilot.token";
  const WEBHOOK = "/webhooks/copilot/webhook";

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const child of children.flat()) {
      if (child == null) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const token = { get: () => localStorage.getItem(KEY), set: (t) => localStorage.setItem(KEY, t), clear: () => localStorage.removeItem(KEY) };

  // WeCom's in-app browser says "wxwork" in its user agent; there the pages sign in
  // with WeCom OAuth (/app/oauth/start) instead of asking for a pasted token.
  const inWeCom = () => /wxwork/i.test(navigator.userAgent);
  const SIGNIN_ERRORS = {
    unregistered: "你的企业微信账号还没有登记为顾问，请店长用 copilot advisors add … --wecom-userid 登记后再试。",
    wecom: "企业微信登录没有成功，请稍后再试，或者粘贴访问令牌登录。",
    state: "登录超时了，请重新打开页面。",
  };

  // The sign-in result comes back in the URL fragment (#copilot_token=… or
  // #copilot_error=…), which browsers never send to a server; it is removed at once.
  function takeSignIn() {
    const params = new URLSearchParams(location.hash.slice(1));
    const fresh = params.get("copilot_token");
    const error = params.get("copilot_error");
    if (fresh || error) history.replaceState(null, "", location.pathname + location.search);
    if (fresh) token.set(fresh);
    return error ? (SIGNIN_ERRORS[error] || SIGNIN_ERRORS.wecom) : null;
  }

  // Inside WeCom, go through WeCom's sign-in; false when that is not possible (not in
  // WeCom, WeCom not configured, or a try a moment ago came back without a token).
  async function weComSignIn() {
    if (!inWeCom()) return false;
    const key = "copilot.oauth.at";
    if (Date.now() - Number(sessionStorage.getItem(key) || 0) < 15000) return false;
    const config = await fetch("/app/oauth/config").then((r) => (r.ok ? r.json() : {})).catch(() => ({}));
    if (!config.enabled) return false;
    sessionStorage.setItem(key, String(Date.now()));
    location.assign(`/app/oauth/start?next=${encodeURIComponent(location.pathname + location.search)}`);
    return true;
  }

  async function send(message) {
    const answer = await fetch(WEBHOOK, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Authorization": `Bearer ${token.get()}` },
      body: JSON.stringify({ message }),
    });
    if (answer.status === 401) { const error = new Error("令牌无效或已过期，请重新登录。"); error.unauthorized = true; throw error; }
    if (!answer.ok) throw new Error(`服务暂时不可用（${answer.status}）`);
    return answer.json();
  }

  function payloadOf(replies) {
    const last = [...replies].reverse().find((r) => r.custom && r.custom.copilot);
    return last ? last.custom.copilot : null;
  }

  async function copy(text, button) {
    try { await navigator.clipboard.writeText(text); }
    catch (_) {
      const area = el("textarea", {}, text); document.body.append(area); area.select();
      document.execCommand("copy"); area.remove();
    }
    if (button) { const old = button.textContent; button.textContent = "已复制"; setTimeout(() => (button.textContent = old), 1200); }
  }

  function renderCard(target, client) {
    target.replaceChildren();
    if (!client) { target.append(el("p", { class: "muted" }, "还没有选中客户。")); return; }
    target.append(
      el("h2", {}, `${client.name}`),
      el("div", {}, client.tier ? el("span", { class: "tag" }, client.tier) : null,
        client.home_store ? el("span", { class: "tag" }, client.home_store) : null,
        client.phone ? el("span", { class: "tag", "data-phone": "" }, client.phone) : null),
    );
    const value = client.value;
    if (value) {
      const parts = [`最近到店 ${value.last_visit.slice(5).replace("-", "月")}日`, value.spend_band, value.segment].filter(Boolean);
      target.append(el("p", { class: "value small" }, parts.join(" · ")));
    }
    const prefs = client.preferences || [];
    target.append(el("h3", { class: "small" }, "偏好"));
    target.append(prefs.length
      ? el("ul", { class: "prefs" }, prefs.map((p) => el("li", p.safety ? { class: "safety" } : {}, `${p.safety ? "⚠️ " : ""}${p.category}：${p.value}`, el("span", { class: "muted small" }, `（${p.recorded_by}@${p.store}）`))))
      : el("p", { class: "muted" }, "还没有记录"));
    const notes = client.notes || [];
    if (notes.length) {
      target.append(el("h3", { class: "small" }, "最近记录"));
      target.append(el("ul", { class: "notes" }, notes.slice(0, 3).map((n) => el("li", { class: "small" }, `${n.created_at.slice(0, 10)} ${n.store}：${n.summary.split("\n")[0]}`))));
    }
  }

  function stepTitles(payload) {
    const titles = { price_objection: "价格异议" };
    for (const s of (payload && payload.flow && payload.flow.steps) || []) titles[s.id] = s.title;
    return titles;
  }

  function renderChips(target, suggestions, onUse, useLabel = "复制", titles = {}) {
    target.replaceChildren();
    for (const s of suggestions || []) {
      const button = el("button", { type: "button" }, useLabel);
      button.addEventListener("click", () => onUse(s.text, button));
      target.append(el("div", { class: "chip", "data-step": s.step },
        el("span", { class: "step" }, titles[s.step] || s.step), el("span", { class: "text" }, s.text), button));
    }
  }

  function renderProgress(target, payload) {
    const flow = payload && payload.flow;
    target.hidden = !flow;
    target.replaceChildren();
    if (!flow) return;
    const steps = flow.steps || [];
    const current = steps.findIndex((s) => s.id === payload.flow_step);
    steps.forEach((s, i) => target.append(el("span", { class: i === current ? "current" : i < current ? "done" : "", "data-step": s.id }, s.title)));
  }

  function renderDeadlines(target, payload) {
    const rows = (payload && payload.deadlines) || [];
    target.hidden = !rows.length;
    target.replaceChildren(...rows.map((d) => el("div", {}, `${d.done ? "✅" : "⏰"} ${d.title}截止 ${d.due.slice(11, 16)}`)));
  }

  function renderRoleplay(target, roleplay) {
    target.hidden = !roleplay;
    target.replaceChildren();
    if (!roleplay) return;
    target.append(el("h2", { class: "small" }, `陪练 · ${roleplay.title}（${roleplay.name}）`));
    target.append(el("div", { class: "small" }, `信任度 ${roleplay.trust}`), el("div", { class: "meter" }, el("i", { style: `width:${roleplay.trust}%` })));
    const card = roleplay.scorecard;
    if (card) {
      target.append(el("p", { class: "score" }, `得分 ${card.score}/100`));
      target.append(el("ul", { class: "checks" }, card.checks.map((c) => el("li", { class: c.passed ? "pass" : "fail" },
        el("div", {}, `${c.title}：${c.reason}`), c.better ? el("div", { class: "better" }, `更好的说法：${c.better}`) : null))));
    }
  }

  return { el, token, inWeCom, takeSignIn, weComSignIn, send, payloadOf, copy, stepTitles, renderCard, renderChips, renderProgress, renderDeadlines, renderRoleplay };
})();
