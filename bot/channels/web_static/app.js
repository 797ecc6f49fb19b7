// The advisor widget: chat with the copilot, with the card, the step, the
// suggestions and the role-play scorecard beside it.
"use strict";
(() => {
  const { el, token, send, payloadOf, copy } = Copilot;
  const $ = (id) => document.getElementById(id);

  function show(signedIn) {
    $("signin").hidden = signedIn; $("app").hidden = !signedIn; $("signout").hidden = !signedIn;
    if (signedIn) $("message").focus();
  }

  function addLine(who, text, buttons = []) {
    const bubble = el("div", { class: "bubble" }, text);
    if (buttons.length) {
      bubble.append(el("div", { class: "buttons" }, buttons.map((b) =>
        el("button", { type: "button", onclick: () => talk(b.payload, b.title) }, b.title))));
    }
    const item = el("li", { class: who }, bubble);
    $("log").append(item);
    item.scrollIntoView({ block: "end" });
  }

  function apply(payload) {
    if (!payload) return;
    Copilot.renderCard($("card"), payload.client);
    Copilot.renderProgress($("progress"), payload);
    Copilot.renderDeadlines($("deadlines"), payload);
    Copilot.renderChips($("chips"), payload.suggestions, (text, button) => copy(text, button), "复制",
      Copilot.stepTitles(payload));
    Copilot.renderRoleplay($("roleplay"), payload.roleplay);
    document.body.dataset.mode = payload.mode;
  }

  async function talk(message, shown = message) {
    addLine("me", shown);
    try {
      const replies = await send(message);
      for (const reply of replies) addLine("bot", reply.text || "", reply.buttons || []);
      apply(payloadOf(replies));
    } catch (error) {
      addLine("bot", error.message);
      if (error.unauthorized) { token.clear(); show(false); Copilot.weComSignIn(); }
    }
  }

  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    token.set($("token").value.trim());
    try {
      const replies = await send("你好");
      show(true);
      for (const reply of replies) addLine("bot", reply.text || "", reply.buttons || []);
      apply(payloadOf(replies));
    } catch (error) {
      token.clear();
      $("signin-error").textContent = error.message; $("signin-error").hidden = false;
    }
  });
  $("send").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("message").value.trim();
    if (!text) return;
    $("message").value = "";
    talk(text);
  });
  $("signout").addEventListener("click", () => { token.clear(); show(false); });

  function signInError(message) {
    $("signin-error").textContent = message; $("signin-error").hidden = false;
  }

  // Until signed in, only the sign-in form shows; inside WeCom, WeCom signs the advisor in.
  (async () => {
    const error = Copilot.takeSignIn();
    if (token.get()) { show(true); return; }
    show(false);
    if (error) signInError(error);
    else await Copilot.weComSignIn();
  })();
})();
