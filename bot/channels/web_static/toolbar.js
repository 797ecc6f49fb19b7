// The WeCom chat-toolbar page: the card of the client in the current chat and
// suggestions to insert into it. In a normal browser, ?external_userid= stands in
// for WeCom's getCurExternalContact.
"use strict";
(() => {
  const { token, send, payloadOf } = Copilot;
  const $ = (id) => document.getElementById(id);
  const inWeCom = () => typeof window.wx !== "undefined" && typeof window.wx.invoke === "function";

  async function configureJsSdk() {
    const answer = await fetch(`/app/jssdk-config?url=${encodeURIComponent(location.href.split("#")[0])}`);
    if (!answer.ok) throw new Error("JS-SDK 签名获取失败");
    const c = await answer.json();
    await new Promise((resolve, reject) => window.wx.agentConfig({
      corpid: c.corpId, agentid: c.agentId, timestamp: c.timestamp, nonceStr: c.nonceStr,
      signature: c.agentSignature, jsApiList: ["getCurExternalContact", "sendChatMessage"],
      success: resolve, fail: reject,
    }));
  }

  async function externalUserId() {
    const fromQuery = new URLSearchParams(location.search).get("external_userid");
    if (fromQuery || !inWeCom()) return fromQuery;
    await configureJsSdk();
    return new Promise((resolve, reject) => window.wx.invoke("getCurExternalContact", {}, (res) =>
      res.err_msg === "getCurExternalContact:ok" ? resolve(res.userId) : reject(new Error(res.err_msg))));
  }

  function insert(text, button) {
    if (inWeCom()) {
      window.wx.invoke("sendChatMessage", { msgtype: "text", text: { content: text } }, () => {});
    } else {
      Copilot.copy(text, button);
    }
  }

  async function load() {
    $("signin").hidden = true; $("app").hidden = false;
    try {
      const id = await externalUserId();
      if (!id) { $("status").textContent = "没有识别到当前聊天的客户。"; return; }
      const payload = payloadOf(await send(`查一下 ${id}`));
      Copilot.renderCard($("card"), payload && payload.client);
      const suggestions = payloadOf(await send("下一步怎么说"));
      const lines = (suggestions && suggestions.suggestions && suggestions.suggestions.length) ? suggestions.suggestions : [];
      Copilot.renderChips($("chips"), lines, insert, inWeCom() ? "插入" : "复制");
      $("status").textContent = lines.length ? "" : "开始接待后，这里会给出当前步骤的建议话术。";
    } catch (error) {
      $("status").textContent = error.message;
      if (error.unauthorized) {
        token.clear(); $("signin").hidden = false; $("app").hidden = true;
        Copilot.weComSignIn();
      }
    }
  }

  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault(); token.set($("token").value.trim()); load();
  });
  // Inside WeCom the advisor is signed in through WeCom OAuth; elsewhere, a pasted token.
  (async () => {
    const error = Copilot.takeSignIn();
    if (token.get()) { load(); return; }
    $("signin").hidden = false;
    if (error) { $("signin-error").textContent = error; $("signin-error").hidden = false; }
    else await Copilot.weComSignIn();
  })();
})();
