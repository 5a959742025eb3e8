// 救助通 H5: one Vue 3 + Vant 4 app with hash routes (#/login, #/real-name, #/authorize, #/applications).
// Written as render functions (h) for Vue's runtime-only build: the page's CSP allows no eval.
"use strict";

(function () {
  const { createApp, h, reactive, ref, onMounted, onBeforeUnmount, nextTick } = Vue;
  const V = vant;
  const api = RL.api;

  // --- state, routing ---------------------------------------------------------------------------------

  const LARGE_KEY = "rl_large_text";
  const AUTH_TOKEN_KEY = "rl_authorization_token"; // the QR/hand-over token: sent only as X-Authorization-Token
  const AUTH_MODE_KEY = "rl_authorization_mode"; // "qr" | "handover"
  const AUTH_MEMBER_KEY = "rl_authorization_member"; // the member's name, for the hand-over prompt

  const store = reactive({
    me: null,
    largeText: localStorage.getItem(LARGE_KEY) === "1",
    message: "",
  });
  const route = reactive({ path: "/", query: {} });

  function applyLargeText() {
    document.documentElement.classList.toggle("large-text", store.largeText);
  }
  function setLargeText(on) {
    store.largeText = on;
    localStorage.setItem(LARGE_KEY, on ? "1" : "0");
    applyLargeText();
  }

  function parseHash() {
    const raw = location.hash.replace(/^#/, "") || "/";
    const [path, qs] = raw.split("?");
    route.path = path.startsWith("/") ? path : "/";
    route.query = Object.fromEntries(new URLSearchParams(qs || ""));
    store.message = "";
  }
  function go(path) {
    if (location.hash === `#${path}`) parseHash();
    else location.hash = `#${path}`;
  }

  // The QR link is AUTH_LINK_BASE#token=…: keep the token in this tab only, and take it out of the address
  // bar and history at once (it is a credential).
  function takeEntryPoint() {
    const page = location.pathname.replace(/\/+$/, "").split("/").pop();
    const fragment = new URLSearchParams(location.hash.replace(/^#/, ""));
    if (fragment.get("token")) {
      sessionStorage.setItem(AUTH_TOKEN_KEY, fragment.get("token"));
      sessionStorage.setItem(AUTH_MODE_KEY, "qr");
      sessionStorage.removeItem(AUTH_MEMBER_KEY);
      history.replaceState(null, "", `${location.pathname}#/authorize`);
    } else if (!location.hash.startsWith("#/")) {
      const start = { "real-name": "/real-name", authorize: "/authorize" }[page] || "/";
      history.replaceState(null, "", `${location.pathname}#${start}`);
    }
  }

  const authToken = () => sessionStorage.getItem(AUTH_TOKEN_KEY);
  const authHeaders = () => ({ "X-Authorization-Token": authToken() || "" });

  async function loadMe() {
    store.me = await api.get("/me");
    return store.me;
  }

  function requireLogin() {
    if (api.auth.token()) return true;
    go(`/login?next=${encodeURIComponent(route.path)}`);
    return false;
  }

  // a Vant field bound to a reactive form, with its error message next to it and a real <label for>
  function field(form, errors, name, label, extra) {
    const id = (extra && extra.id) || name.replace(/_/g, "-");
    return h(
      V.Field,
      Object.assign(
        {
          id,
          name,
          label,
          modelValue: form[name],
          "onUpdate:modelValue": (value) => {
            form[name] = value;
          },
          errorMessage: errors[name] || "",
          labelWidth: "6.5em",
        },
        extra || {},
      ),
    );
  }

  function showError(err, errors) {
    if (errors) for (const key of Object.keys(errors)) delete errors[key];
    if (err && err.errors && errors) Object.assign(errors, err.errors);
    store.message = (err && err.message) || "操作失败，请稍后重试";
  }

  function button(label, onClick, extra) {
    return h(
      V.Button,
      Object.assign({ type: "primary", block: true, round: true, class: "rl-button", onClick }, extra || {}),
      () => label,
    );
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // --- face capture (real-name and authorization share it) -------------------------------------------

  const TURNS = { turn_left: "向左转头", turn_right: "向右转头" };
  const FRAME_COUNT = 4;
  const FRAME_INTERVAL_MS = 1000;

  const FaceCapture = {
    name: "FaceCapture",
    props: { getChallenge: Function, submit: Function, poll: Function },
    emits: ["passed"],
    setup(props, { emit }) {
      const state = reactive({
        challenge: null,
        phase: "loading", // loading | ready | filming | checking | failed
        prompt: "",
        result: "",
        error: "",
        noCamera: !(navigator.mediaDevices && navigator.mediaDevices.getUserMedia),
        shots: 0,
      });
      const video = ref(null);
      const files = ref(null);
      let stream = null;

      function stop() {
        if (stream) for (const track of stream.getTracks()) track.stop();
        stream = null;
      }
      onBeforeUnmount(stop);

      async function fresh() {
        state.phase = "loading";
        try {
          state.challenge = await props.getChallenge();
          state.phase = "ready";
        } catch (err) {
          state.error = err.message;
          state.phase = "failed";
        }
      }
      onMounted(fresh);

      const steps = () => (state.challenge ? state.challenge.instructions || state.challenge.actions.map((a) => TURNS[a]) : []);

      function grab() {
        const el = video.value;
        const canvas = document.createElement("canvas");
        canvas.width = el.videoWidth;
        canvas.height = el.videoHeight;
        // drawn as the sensor sees it: the preview may be mirrored by CSS, the frame never is
        canvas.getContext("2d").drawImage(el, 0, 0, canvas.width, canvas.height);
        return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.92));
      }

      async function film() {
        state.error = "";
        state.result = "";
        try {
          stream = await navigator.mediaDevices.getUserMedia({
            video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } },
            audio: false,
          });
        } catch (err) {
          state.noCamera = true;
          state.error = "无法打开摄像头，请允许使用摄像头，或改为拍照上传";
          return;
        }
        const started = performance.now();
        state.phase = "filming";
        state.shots = 0;
        state.prompt = "请正对镜头";
        await nextTick();
        video.value.srcObject = stream;
        await video.value.play().catch(() => undefined);
        const [first, second] = steps();
        const frames = [];
        // frame i at 0.5 s + i seconds: facing, turning, turned (first action), back (second action)
        for (let i = 0; i < FRAME_COUNT; i += 1) {
          const due = started + FRAME_INTERVAL_MS / 2 + i * FRAME_INTERVAL_MS;
          await sleep(Math.max(0, due - performance.now()));
          frames.push(await grab());
          state.shots = i + 1;
          state.prompt = i < 2 ? first : second;
        }
        stop();
        await send(frames);
      }

      async function uploadFiles() {
        const chosen = Array.from((files.value && files.value.files) || []);
        await send(chosen);
      }

      async function send(frames) {
        state.phase = "checking";
        state.prompt = "";
        const form = new FormData();
        form.append("challenge_id", state.challenge.challenge_id);
        frames.forEach((blob, i) => form.append("frames", blob, blob.name || `frame${i + 1}.jpg`));
        try {
          const started = await props.submit(form);
          let result = started;
          for (let n = 0; n < 120 && result.status !== "passed" && result.status !== "failed"; n += 1) {
            await sleep(1000);
            result = await props.poll(started.id);
          }
          if (result.status === "passed") {
            emit("passed", result);
            return;
          }
          state.result = `${result.reason_message || result.message || "核验未通过"}，请重新拍摄或到乡镇（街道）窗口办理`;
        } catch (err) {
          state.result = err.errors && err.errors.frames ? err.errors.frames : err.message;
        }
        await fresh();
      }

      return () => {
        const [first, second] = steps();
        const children = [
          h(
            "p",
            {
              id: "instruction",
              class: "rl-instruction",
              "data-actions": state.challenge ? state.challenge.actions.join(",") : "",
            },
            state.challenge ? `请正对镜头，先${first}，再${second}。点“开始拍摄”后按屏幕提示缓慢转头。` : "正在准备…",
          ),
          h("p", { class: "rl-hint" }, "人脸照片仅用于本次核验，核验后即删除；不愿人脸核验的，可到乡镇（街道）窗口办理。"),
        ];
        if (state.result) children.push(h("p", { id: "face-result", class: "rl-error", role: "alert" }, state.result));
        if (state.error) children.push(h("p", { class: "rl-error", role: "alert" }, state.error));
        if (state.phase === "filming") {
          children.push(
            h("p", { id: "prompt", class: "rl-prompt", "aria-live": "assertive" }, state.prompt),
            h("video", {
              ref: video,
              id: "camera",
              class: "rl-camera",
              autoplay: true,
              muted: true,
              playsinline: true,
              "aria-label": "摄像头画面",
            }),
            h("p", { class: "rl-hint", "aria-live": "polite" }, `已拍摄 ${state.shots} / ${FRAME_COUNT} 张`),
          );
        }
        if (state.phase === "checking") children.push(h(V.Loading, { vertical: true }, () => "正在核验，请稍候…"));
        if (state.phase === "ready" && !state.noCamera) {
          children.push(button("开始拍摄", film, { id: "start-camera" }));
        }
        if (state.phase === "ready" && state.noCamera) {
          // no camera API (e.g. plain http on a LAN address): take 3-5 photos with the phone's camera app
          children.push(
            h("label", { for: "frames", class: "rl-label" }, "拍摄3至5张照片（按提示转头）"),
            h("input", { ref: files, id: "frames", type: "file", accept: "image/jpeg,image/png", capture: "user", multiple: true }),
            button("开始核验", uploadFiles, { id: "upload" }),
          );
        }
        if (state.phase === "failed") children.push(button("重试", fresh, { id: "retry-challenge" }));
        return h("div", { class: "rl-face" }, children);
      };
    },
  };

  // --- screens -----------------------------------------------------------------------------------------

  const Home = {
    setup() {
      onMounted(() => {
        if (api.auth.token()) loadMe().catch(() => undefined);
      });
      return () =>
        h("div", [
          h("h1", { class: "rl-title" }, "救助通"),
          h("p", { class: "rl-hint" }, "社会救助网上申请。看不清时请打开“大字模式”。"),
          h(V.CellGroup, { inset: true }, () => [
            h(V.Cell, { title: "实名核验", isLink: true, id: "go-real-name", onClick: () => go("/real-name") }),
            h(V.Cell, { title: "我的申请与家庭成员授权", isLink: true, id: "go-applications", onClick: () => go("/applications") }),
            h(V.Cell, { title: "大字模式", center: true }, {
              "right-icon": () =>
                h(V.Switch, {
                  id: "large-text-switch",
                  modelValue: store.largeText,
                  "onUpdate:modelValue": setLargeText,
                  "aria-label": "大字模式",
                }),
            }),
          ]),
          store.me
            ? h("p", { class: "rl-hint", id: "who" }, `已登录：${store.me.phone_masked || ""} ${store.me.real_name || ""}`)
            : button("登录", () => go("/login"), { id: "go-login" }),
          store.me
            ? button(
                "退出登录",
                () => {
                  api.auth.clear();
                  store.me = null;
                },
                { plain: true, type: "default", id: "logout" },
              )
            : null,
        ]);
    },
  };

  const Login = {
    setup() {
      const form = reactive({ phone: "", code: "" });
      const errors = reactive({});
      const devCode = ref("");
      const seconds = ref(0);
      let timer = null;
      onBeforeUnmount(() => clearInterval(timer));

      async function send() {
        try {
          const sent = await api.post("/auth/sms/send", { phone: form.phone.trim() });
          showError(null, errors);
          store.message = "验证码已发送";
          if (sent.dev_code) devCode.value = sent.dev_code;
          seconds.value = 60;
          timer = setInterval(() => {
            seconds.value -= 1;
            if (seconds.value <= 0) clearInterval(timer);
          }, 1000);
        } catch (err) {
          showError(err, errors);
        }
      }
      async function login() {
        try {
          const tokens = await api.post("/auth/sms/verify", { phone: form.phone.trim(), code: form.code.trim() });
          api.auth.set(tokens.access_token);
          showError(null, errors);
          store.message = "";
          await loadMe();
          go(route.query.next || "/");
        } catch (err) {
          showError(err, errors);
        }
      }
      return () =>
        h("div", [
          h("h1", { class: "rl-title" }, "手机号登录"),
          h(V.CellGroup, { inset: true }, () => [
            field(form, errors, "phone", "手机号", { type: "tel", maxlength: 11, placeholder: "请输入11位手机号" }),
            field(form, errors, "code", "验证码", { type: "digit", maxlength: 6, placeholder: "6位数字" }, ),
          ]),
          h(
            V.Button,
            { id: "send-code", class: "rl-button", block: true, round: true, plain: true, type: "primary", disabled: seconds.value > 0, onClick: send },
            () => (seconds.value > 0 ? `${seconds.value}秒后可重新获取` : "获取验证码"),
          ),
          devCode.value ? h("p", { id: "dev-code", class: "rl-hint" }, `开发环境验证码：${devCode.value}`) : null,
          button("登录", login, { id: "login" }),
        ]);
    },
  };

  const RealName = {
    setup() {
      const form = reactive({ name: "", id_number: "" });
      const errors = reactive({});
      const step = ref("loading");
      const draft = ref("");

      async function refresh() {
        const me = await loadMe();
        step.value = me.real_name_status === "verified" ? "done" : me.real_name_status === "claimed" ? "face" : "claim";
      }
      onMounted(() => {
        if (requireLogin()) refresh().catch((err) => showError(err));
      });
      async function claim() {
        try {
          await api.post("/me/real-name", { name: form.name.trim(), id_number: form.id_number.trim().toUpperCase() });
          showError(null, errors);
          store.message = "";
          step.value = "face";
        } catch (err) {
          showError(err, errors);
        }
      }
      async function viaIdService() {
        try {
          const result = await api.post("/me/real-name/verify", { method: "id_service" });
          if (result.status === "passed") await refresh();
          else store.message = `${result.reason_message || "核验未通过"}，请改用人脸核验或到乡镇（街道）窗口办理`;
        } catch (err) {
          showError(err);
        }
      }
      async function apply() {
        try {
          const created = await api.post("/applications", { program: "dibao" }, { idempotencyKey: api.newKey() });
          draft.value = `已创建低保申请草稿，编号 ${created.reference}`;
        } catch (err) {
          showError(err);
        }
      }
      return () => {
        const body = [h("h1", { class: "rl-title" }, "实名核验")];
        if (step.value === "claim") {
          body.push(
            h("p", { class: "rl-hint" }, "申请救助前须先核验本人身份。"),
            h(V.CellGroup, { inset: true, id: "step-claim" }, () => [
              field(form, errors, "name", "姓名", { placeholder: "与身份证一致" }),
              field(form, errors, "id_number", "身份证号码", { maxlength: 18, placeholder: "18位" }),
            ]),
            button("下一步", claim, { id: "claim" }),
          );
        } else if (step.value === "face") {
          body.push(
            h("section", { id: "step-face" }, [
              h("h2", { class: "rl-subtitle" }, "人脸核验"),
              h(FaceCapture, {
                getChallenge: () => api.post("/me/real-name/face/challenge"),
                submit: (form) => api.upload("/me/real-name/face", form),
                poll: (id) => api.get(`/me/real-name/verifications/${id}`),
                onPassed: refresh,
              }),
              (store.me && store.me.verification_methods || []).includes("id_service")
                ? h("div", { class: "rl-alternative" }, [
                    h("p", { class: "rl-hint" }, "也可以由身份核验服务核对姓名、身份证号与本人手机号："),
                    h(V.Button, { id: "verify-id-service", block: true, plain: true, type: "primary", onClick: viaIdService }, () => "用身份核验服务核验"),
                  ])
                : null,
            ]),
          );
        } else if (step.value === "done" && store.me && route.query.next) {
          body.push(
            h("section", { id: "step-done" }, [
              h("p", { id: "verified", class: "rl-ok" }, `已实名核验：${store.me.real_name}（${store.me.id_number_masked}）`),
              button("继续", () => go(route.query.next), { id: "continue" }),
            ]),
          );
        } else if (step.value === "done" && store.me) {
          body.push(
            h("section", { id: "step-done" }, [
              h("p", { id: "verified", class: "rl-ok" }, `已实名核验：${store.me.real_name}（${store.me.id_number_masked}）`),
              button("开始填写低保申请", apply, { id: "apply" }),
              draft.value ? h("p", { id: "draft", class: "rl-ok" }, draft.value) : null,
            ]),
          );
        }
        return h("div", body);
      };
    },
  };

  const Applications = {
    setup() {
      const items = ref([]);
      const members = reactive({});
      const qr = reactive({});
      async function refresh() {
        items.value = await api.get("/applications");
        for (const item of items.value) {
          members[item.id] = await api.get(`/applications/${item.id}/authorizations`).catch(() => []);
        }
      }
      onMounted(() => {
        if (requireLogin()) refresh().catch((err) => showError(err));
      });
      async function handOver(application, member) {
        try {
          const started = await api.post(`/applications/${application.id}/authorizations/${member.id}/handover`);
          sessionStorage.setItem(AUTH_TOKEN_KEY, started.token);
          sessionStorage.setItem(AUTH_MODE_KEY, "handover");
          sessionStorage.setItem(AUTH_MEMBER_KEY, member.member_name);
          go("/authorize");
        } catch (err) {
          showError(err);
        }
      }
      async function showQr(application, member) {
        try {
          const made = await api.post(`/applications/${application.id}/authorizations/${member.id}/qrcode`);
          qr[member.id] = made;
        } catch (err) {
          showError(err);
        }
      }
      return () =>
        h("div", [
          h("h1", { class: "rl-title" }, "我的申请"),
          items.value.length === 0 ? h(V.Empty, { description: "还没有申请" }) : null,
          ...items.value.map((item) =>
            h("section", { class: "rl-card", "data-testid": `application-${item.id}` }, [
              h("h2", { class: "rl-subtitle" }, `${item.program_label} ${item.reference}`),
              h("p", { "data-testid": "status" }, item.status_label),
              h("h3", { class: "rl-label" }, "家庭成员授权（家庭经济状况核对）"),
              ...(members[item.id] || []).map((member) =>
                h("div", { class: "rl-member", "data-testid": `member-${member.id}` }, [
                  h("p", [
                    h("strong", member.member_name),
                    ` ${member.member_id_number_masked} `,
                    h("span", { "data-testid": `member-status-${member.id}` }, member.status_label),
                  ]),
                  member.status === "pending"
                    ? h("div", { class: "rl-row" }, [
                        h(
                          V.Button,
                          { size: "small", type: "primary", "data-testid": `handover-${member.id}`, onClick: () => handOver(item, member) },
                          () => `在本机授权（交给${member.member_name}）`,
                        ),
                        h(
                          V.Button,
                          { size: "small", plain: true, type: "primary", "data-testid": `qr-${member.id}`, onClick: () => showQr(item, member) },
                          () => "生成二维码",
                        ),
                      ])
                    : null,
                  qr[member.id]
                    ? h("div", { class: "rl-qr" }, [
                        h("img", {
                          src: `data:image/png;base64,${qr[member.id].png_base64}`,
                          alt: `${member.member_name}的授权二维码，请其用自己的手机扫码`,
                          "data-testid": `qr-image-${member.id}`,
                        }),
                        h("p", { class: "rl-hint" }, "请家庭成员用自己的手机扫码（或把下面的链接发给本人），72小时内有效。"),
                        h("p", { class: "rl-link", "data-testid": `qr-link-${member.id}` }, qr[member.id].link),
                      ])
                    : null,
                ]),
              ),
            ]),
          ),
        ]);
    },
  };

  const Authorize = {
    setup() {
      const step = ref("loading"); // handover | letter | identity | face | sign | done | invalid
      const letter = ref(null);
      const form = reactive({ id_number: "" });
      const errors = reactive({});
      const canvas = ref(null);
      const mode = sessionStorage.getItem(AUTH_MODE_KEY) || "qr";
      const memberName = sessionStorage.getItem(AUTH_MEMBER_KEY) || "";
      let pad = null;

      async function loadLetter() {
        try {
          letter.value = await api.get("/authorizations/letter", { headers: authHeaders() });
          if (letter.value.method === "same_phone" && !letter.value.identity_confirmed) step.value = "identity";
          else step.value = "letter";
        } catch (err) {
          step.value = err.reason === "real_name_required" ? "real_name" : "invalid";
          showError(err);
        }
      }
      onMounted(() => {
        if (!authToken()) {
          step.value = "invalid";
          store.message = "授权链接无效，请重新扫码或由申请人重新发起";
          return;
        }
        if (!requireLogin()) return;
        if (mode === "handover") step.value = "handover";
        else loadLetter();
      });
      async function confirmIdentity() {
        try {
          letter.value = await api.post("/authorizations/identity", { id_number: form.id_number.trim().toUpperCase() }, { headers: authHeaders() });
          showError(null, errors);
          store.message = "";
          step.value = "letter";
        } catch (err) {
          showError(err, errors);
        }
      }
      async function startPad() {
        step.value = "sign";
        await nextTick();
        const el = canvas.value;
        const ratio = Math.max(window.devicePixelRatio || 1, 1);
        el.width = el.offsetWidth * ratio;
        el.height = el.offsetHeight * ratio;
        el.getContext("2d").scale(ratio, ratio);
        // an opaque white background: the server finds the ink against it
        pad = new SignaturePad(el, { backgroundColor: "rgb(255,255,255)", penColor: "rgb(0,0,0)", minWidth: 1.5, maxWidth: 4 });
      }
      async function sign() {
        if (!pad || pad.isEmpty()) {
          errors.signature = "请用手指在方框内写下您的姓名";
          return;
        }
        // the pad's canvas already holds the white background and the ink
        const blob = await new Promise((resolve) => canvas.value.toBlob(resolve, "image/png"));
        const body = new FormData();
        body.append("signature", blob, "signature.png");
        try {
          await api.upload("/authorizations/signature", body, { headers: authHeaders() });
          sessionStorage.removeItem(AUTH_TOKEN_KEY);
          step.value = "done";
          store.message = "";
        } catch (err) {
          showError(err, errors);
          if (err.reason === "face_check_expired" || err.reason === "face_not_verified") step.value = "face";
        }
      }
      function finish() {
        sessionStorage.removeItem(AUTH_MODE_KEY);
        sessionStorage.removeItem(AUTH_MEMBER_KEY);
        go(mode === "handover" ? "/applications" : "/");
      }

      return () => {
        const body = [h("h1", { class: "rl-title" }, "家庭经济状况核对授权")];
        const l = letter.value;
        if (step.value === "handover") {
          body.push(
            h("section", { class: "rl-card rl-handover", id: "handover-notice" }, [
              h("p", { class: "rl-big" }, `请将手机交给${memberName}`),
              h("p", { class: "rl-hint" }, `由${memberName}本人阅读授权书、输入本人身份证号码、做人脸核验并签名。`),
            ]),
            button(`我是${memberName}，开始授权`, loadLetter, { id: "handover-continue" }),
          );
        } else if (step.value === "identity") {
          body.push(
            h("p", { class: "rl-big" }, `${l.member_name}，请输入您本人的身份证号码`),
            h(V.CellGroup, { inset: true }, () => [field(form, errors, "id_number", "身份证号码", { id: "member-id-number", maxlength: 18 })]),
            button("确认身份", confirmIdentity, { id: "confirm-identity" }),
          );
        } else if (step.value === "letter" && l) {
          body.push(
            h("section", { class: "rl-card", id: "letter" }, [
              h("h2", { class: "rl-subtitle" }, `${l.member_name}：${l.purpose}授权书`),
              h("p", { class: "rl-hint" }, `${l.program_label}申请 ${l.application_reference}，版本 ${l.letter_version}`),
              h("div", { class: "rl-letter", id: "letter-text", tabindex: "0", "aria-label": "授权书全文" }, l.letter_text),
              h("p", `核对的信息：${(l.data_categories || []).join("、")}`),
              h("p", `有效期：${l.validity}`),
            ]),
            button("我已阅读并同意，开始人脸核验", () => {
              step.value = "face";
            }, { id: "agree" }),
          );
        } else if (step.value === "face") {
          body.push(
            h("section", { id: "step-face" }, [
              h("h2", { class: "rl-subtitle" }, "人脸核验"),
              h(FaceCapture, {
                getChallenge: () => api.post("/authorizations/face/challenge", undefined, { headers: authHeaders() }),
                submit: (form) => api.upload("/authorizations/face", form, { headers: authHeaders() }),
                poll: (id) => api.get(`/authorizations/face/${id}`, { headers: authHeaders() }),
                onPassed: startPad,
              }),
            ]),
          );
        } else if (step.value === "sign") {
          body.push(
            h("section", { id: "step-sign" }, [
              h("h2", { class: "rl-subtitle" }, "请在下方方框内手写签名"),
              h("canvas", { ref: canvas, id: "signature-pad", class: "rl-signature", role: "img", "aria-label": "签名区域，请用手指书写姓名" }),
              errors.signature ? h("p", { class: "rl-error", role: "alert", id: "signature-error" }, errors.signature) : null,
              h("div", { class: "rl-row" }, [
                h(V.Button, { id: "clear-signature", plain: true, type: "default", onClick: () => pad && pad.clear() }, () => "重写"),
                h(V.Button, { id: "submit-signature", type: "primary", onClick: sign }, () => "确认签名"),
              ]),
            ]),
          );
        } else if (step.value === "done") {
          body.push(
            h("section", { class: "rl-card", id: "auth-done" }, [
              h("p", { class: "rl-ok rl-big" }, "授权完成"),
              h("p", mode === "handover" ? "请将手机交还申请人。" : "您可以关闭本页面。"),
            ]),
            button(mode === "handover" ? "已交还申请人" : "返回首页", finish, { id: "auth-finish" }),
          );
        } else if (step.value === "real_name") {
          body.push(button("先去实名核验", () => go("/real-name?next=/authorize"), { id: "go-real-name" }));
        } else if (step.value === "invalid") {
          body.push(h("p", { id: "auth-invalid", class: "rl-hint" }, "无法打开授权，请联系申请人重新发起，或到乡镇（街道）窗口办理。"));
        }
        return h("div", body);
      };
    },
  };

  const ROUTES = {
    "/": { view: Home, title: "救助通" },
    "/login": { view: Login, title: "登录" },
    "/real-name": { view: RealName, title: "实名核验" },
    "/applications": { view: Applications, title: "我的申请" },
    "/authorize": { view: Authorize, title: "授权" },
  };

  const Shell = {
    setup() {
      return () => {
        const current = ROUTES[route.path] || ROUTES["/"];
        return h("div", { class: "rl-app" }, [
          h(V.NavBar, { title: current.title, leftArrow: route.path !== "/", leftText: route.path !== "/" ? "首页" : "", onClickLeft: () => go("/") }, {
            right: () =>
              h(
                "button",
                {
                  type: "button",
                  id: "large-text-toggle",
                  class: "rl-text-toggle",
                  "aria-pressed": store.largeText ? "true" : "false",
                  "aria-label": store.largeText ? "关闭大字模式" : "打开大字模式",
                  onClick: () => setLargeText(!store.largeText),
                },
                store.largeText ? "标准字" : "大字",
              ),
          }),
          h("main", { class: "rl-main" }, [
            h("p", { id: "message", class: "rl-message", role: "alert", "aria-live": "assertive" }, store.message),
            h(current.view, { key: route.path + JSON.stringify(route.query) }),
          ]),
        ]);
      };
    },
  };

  takeEntryPoint();
  parseHash();
  applyLargeText();
  window.addEventListener("hashchange", parseHash);
  createApp(Shell).use(V).mount("#app");
})();
