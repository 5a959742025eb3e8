// 实名核验 H5: log in by SMS, claim name + ID number, verify by face (server challenge), then start a draft.
"use strict";

const api = async (method, path, body, isForm) => {
  const headers = {};
  const token = sessionStorage.getItem("access_token");
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body && !isForm) headers["Content-Type"] = "application/json";
  const resp = await fetch(`/api/v1${path}`, { method, headers, body: isForm ? body : body && JSON.stringify(body) });
  const data = resp.status === 204 ? {} : await resp.json();
  if (!resp.ok) throw data;
  return data;
};

const $ = (id) => document.getElementById(id);
const show = (id) => {
  for (const s of document.querySelectorAll("section")) s.hidden = s.id !== id;
};
const say = (text) => {
  $("message").textContent = text || "";
};
const fieldErrors = (err) => {
  for (const p of document.querySelectorAll("[data-field]")) p.textContent = "";
  const errors = (err && err.errors) || {};
  for (const [field, messages] of Object.entries(errors)) {
    const target = document.querySelector(`[data-field="${field}"]`);
    const text = Array.isArray(messages) ? messages.join("；") : JSON.stringify(messages);
    if (target) target.textContent = text;
  }
  say(err && err.message);
};

let challenge = null;
const TURNS = { turn_left: "向左转头", turn_right: "向右转头" };

async function prepareFace() {
  show("step-face");
  try {
    challenge = await api("POST", "/me/real-name/face/challenge");
    const steps = (challenge.instructions || challenge.actions.map((a) => TURNS[a])).join("，再");
    $("instruction").textContent = `请正对镜头，先${steps}，按顺序拍摄3至5张照片。`;
    $("instruction").dataset.actions = (challenge.actions || []).join(",");
  } catch (err) {
    challenge = null;
    fieldErrors(err);
  }
}

async function afterLogin() {
  const me = await api("GET", "/me");
  if (me.real_name_status === "verified") return verified(me);
  if (me.real_name_status === "claimed") return prepareFace();
  show("step-claim");
}

function verified(me) {
  show("step-done");
  $("verified").textContent = `已实名核验：${me.real_name}（${me.id_number_masked}）`;
}

async function poll(id) {
  for (let n = 0; n < 120; n += 1) {
    const result = await api("GET", `/me/real-name/verifications/${id}`);
    if (result.status !== "verifying" && result.status !== "pending") return result;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw { message: "核验时间较长，请稍后在“我的”中查看结果" };
}

document.addEventListener("DOMContentLoaded", () => {
  $("send-code").addEventListener("click", async () => {
    try {
      const sent = await api("POST", "/auth/sms/send", { phone: $("phone").value.trim() });
      say("");
      if (sent.dev_code) {
        $("dev-code").hidden = false;
        $("dev-code").textContent = `开发环境验证码：${sent.dev_code}`;
      }
    } catch (err) {
      fieldErrors(err);
    }
  });
  $("login").addEventListener("click", async () => {
    try {
      const tokens = await api("POST", "/auth/sms/verify", { phone: $("phone").value.trim(), code: $("code").value.trim() });
      sessionStorage.setItem("access_token", tokens.access_token);
      say("");
      await afterLogin();
    } catch (err) {
      fieldErrors(err);
    }
  });
  $("claim").addEventListener("click", async () => {
    try {
      await api("POST", "/me/real-name", { name: $("name").value.trim(), id_number: $("id-number").value.trim() });
      fieldErrors(null);
      await prepareFace();
    } catch (err) {
      fieldErrors(err);
    }
  });
  $("upload").addEventListener("click", async () => {
    const form = new FormData();
    for (const file of $("frames").files) form.append("frames", file);
    if (challenge) form.append("challenge_id", challenge.challenge_id);
    $("upload").disabled = true;
    say("正在核验，请稍候…");
    try {
      const started = await api("POST", "/me/real-name/face", form, true);
      const result = await poll(started.id);
      if (result.status === "passed") {
        say("");
        verified(await api("GET", "/me"));
      } else {
        say(`${result.reason_message || "核验未通过"}，请重新拍摄或到乡镇（街道）窗口办理`);
        await prepareFace();
      }
    } catch (err) {
      fieldErrors(err);
    } finally {
      $("upload").disabled = false;
    }
  });
  $("apply").addEventListener("click", async () => {
    try {
      const draft = await api("POST", "/applications", { program: "dibao" });
      $("draft").hidden = false;
      $("draft").textContent = `已创建低保申请草稿，编号 ${draft.reference}`;
    } catch (err) {
      fieldErrors(err);
    }
  });
});
