// 救助通 H5: one Vue 3 + Vant 4 app with hash routes (#/login, #/real-name, #/authorize, #/applications, #/benefits).
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
    outbox: [],
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
            h(V.Cell, { title: "申请救助", isLink: true, id: "go-apply", onClick: () => go("/apply") }),
            h(V.Cell, { title: "实名核验", isLink: true, id: "go-real-name", onClick: () => go("/real-name") }),
            h(V.Cell, { title: "一键报告困难群众", isLink: true, id: "go-report", onClick: () => go("/report") }),
            h(V.Cell, { title: "我的报告", isLink: true, id: "go-reports", onClick: () => go("/reports") }),
            h(V.Cell, { title: "我的待遇", isLink: true, id: "go-benefits", onClick: () => go("/benefits") }),
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
              item.status === "draft"
                ? h(V.Button, { size: "small", type: "primary", "data-testid": `resume-${item.id}`, onClick: () => go(`/apply?id=${item.id}`) }, () => "继续填写")
                : h(V.Button, { size: "small", plain: true, type: "primary", "data-testid": `progress-${item.id}`, onClick: () => go(`/application?id=${item.id}`) }, () => "查看进度"),
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


  // --- the application wizard: one question per screen, saved while typing -------------------------------

  const RELATIONS = { self: "本人", spouse: "配偶", child: "子女", parent: "父母", sibling: "兄弟姐妹", grandparent: "祖父母/外祖父母", grandchild: "孙子女/外孙子女", other: "其他" };
  const HEALTH = { healthy: "健康", chronic: "患慢性病", serious: "患重特大疾病", disabled: "残疾" };
  const EMPLOYMENT = { employed: "在业", flexible: "灵活就业", farming: "务农", unemployed: "失业", student: "在校学生", retired: "退休", unable: "丧失劳动能力" };
  const INCOMES = { wages: "工资性收入", farming: "农业生产收入", business: "经营净收入", property: "财产净收入", pension: "养老金/离退休金", support: "赡养费/扶养费/抚养费", subsidy: "政策性补贴", other: "其他收入" };
  const ASSETS = { housing: "住房", non_residential: "非住房类房产", car: "小汽车", motorcycle: "摩托车", disability_vehicle: "残疾人功能性补偿代步车", deposit: "存款", securities: "有价证券", insurance: "商业保险" };
  const PROXY_RELATIONS = { relative: "亲属", cadre: "村（社区）干部", social_worker: "社会工作者", other: "其他" };
  const PROXY_REASONS = { elderly: "年老", disabled: "残疾", no_phone: "无智能手机", illness: "患病", other: "其他" };
  const MATERIALS = { id_card: "身份证", hukou: "户口簿", hardship_proof: "困难情况证明", medical_bills: "医疗费用票据" };
  const DRAFT_KEY = "rl_draft_id";
  const LEVEL_NAMES = ["省", "市", "县（区）", "乡镇（街道）", "村（社区）"];

  // a labelled native <select>: large, accessible, and what phones show as their own picker
  function select(id, label, value, options, onChange, error) {
    return h("div", { class: "rl-select" }, [
      h("label", { for: id, class: "rl-label" }, label),
      h(
        "select",
        { id, value: value || "", onChange: (e) => onChange(e.target.value), "aria-invalid": error ? "true" : "false" },
        [h("option", { value: "" }, "请选择"), ...Object.entries(options).map(([k, v]) => h("option", { value: k, selected: k === value }, v))],
      ),
      error ? h("p", { class: "rl-error rl-field-error" }, error) : null,
    ]);
  }
  function input(id, label, value, onInput, error, extra) {
    return h("div", { class: "rl-input" }, [
      h("label", { for: id, class: "rl-label" }, label),
      h(extra && extra.textarea ? "textarea" : "input", Object.assign({ id, value: value == null ? "" : value, onInput: (e) => onInput(e.target.value), "aria-invalid": error ? "true" : "false" }, (extra && extra.attrs) || {})),
      error ? h("p", { class: "rl-error rl-field-error" }, error) : null,
    ]);
  }

  const RegionPicker = {
    props: { modelValue: Array },
    emits: ["update:modelValue"],
    setup(props, { emit }) {
      const levels = reactive([[], [], [], [], []]); // options per level
      const chosen = reactive(["", "", "", "", ""]);
      async function load(level, parent) {
        levels[level] = await api.get(parent ? `/regions?parent=${parent}` : "/regions");
      }
      onMounted(async () => {
        await load(0, null);
        const start = props.modelValue || [];
        for (let i = 0; i < start.length && start[i]; i += 1) {
          chosen[i] = start[i];
          if (i < 4) await load(i + 1, start[i]);
        }
      });
      async function pick(level, code) {
        chosen[level] = code;
        for (let i = level + 1; i < 5; i += 1) {
          chosen[i] = "";
          levels[i] = [];
        }
        if (code && level < 4) await load(level + 1, code);
        emit("update:modelValue", chosen.filter(Boolean));
      }
      return () =>
        h("div", { class: "rl-cascade", role: "group", "aria-label": "所在地区" },
          levels.map((options, level) =>
            level === 0 || chosen[level - 1]
              ? select(`region-${level}`, LEVEL_NAMES[level], chosen[level], Object.fromEntries(options.map((r) => [r.code, r.name])), (code) => pick(level, code))
              : null,
          ),
        );
    },
  };

  const Apply = {
    setup() {
      const STEPS = ["region", "program", "address", "members", "incomes", "assets", "materials", "submit"];
      const step = ref(0);
      const draft = reactive({ id: null, program: "", region: [], residence_address: "", hardship_reason: "", members: [], incomes: [], assets: [], proxy: false, on_behalf_of: { name: "", id_number: "", relation: "", reason: "" } });
      const programs = ref([]);
      const errors = reactive({});
      const saveState = ref("");
      const attachments = ref([]);
      const outcome = ref(null);
      let timer = null;

      function fields() {
        const [, , , township, village] = draft.region;
        return {
          residence_township_code: township || null,
          residence_village_code: village || null,
          hukou_township_code: township || null,
          residence_address: draft.residence_address || null,
          hardship_reason: draft.hardship_reason || null,
          members: draft.members.map((m) => ({ name: m.name || null, id_number: (m.id_number || "").toUpperCase() || null, relation: m.relation || null, health: m.health || null, employment: m.employment || null })),
          incomes: draft.incomes.map((i) => ({ category: i.category || null, monthly_amount: i.monthly_amount || null, member_index: i.member_index === "" || i.member_index == null ? null : Number(i.member_index) })),
          assets: draft.assets.map((a) => ({ kind: a.kind || null, description: a.description || null, address: a.address || null, area_sqm: a.area_sqm || null, value_yuan: a.value_yuan || null })),
        };
      }
      function fill(app) {
        draft.id = app.id;
        draft.program = app.program;
        draft.residence_address = app.residence_address || "";
        draft.hardship_reason = app.hardship_reason || "";
        draft.members = (app.members || []).map((m) => Object.assign({}, m));
        draft.incomes = (app.incomes || []).map((i) => Object.assign({}, i, { member_index: i.member_index == null ? "" : String(i.member_index) }));
        draft.assets = (app.assets || []).map((a) => Object.assign({}, a));
        const code = app.residence_village_code || app.residence_township_code || "";
        draft.region = code ? [code.slice(0, 2), code.slice(0, 4), code.slice(0, 6), code.slice(0, 9), code.length > 9 ? code : ""].filter(Boolean) : [];
      }
      async function save() {
        if (!draft.id) return;
        saveState.value = "正在保存…";
        try {
          await api.request("PATCH", `/applications/${draft.id}`, { json: fields() });
          saveState.value = "已保存草稿";
          showError(null, errors);
          store.message = "";
        } catch (err) {
          saveState.value = err.network ? "网络不通，恢复后自动保存" : "未保存";
          if (!err.network) showError(err, errors);
        }
      }
      function changed() {
        clearTimeout(timer);
        saveState.value = "有改动，稍后自动保存";
        timer = setTimeout(save, 700);
      }
      onBeforeUnmount(() => {
        clearTimeout(timer);
        if (saveState.value === "有改动，稍后自动保存") save();
      });
      onMounted(async () => {
        if (!requireLogin()) return;
        const me = await loadMe().catch(() => null);
        const id = route.query.id || localStorage.getItem(DRAFT_KEY);
        if (id) {
          try {
            const app = await api.get(`/applications/${id}`);
            if (app.status === "draft") {
              fill(app);
              step.value = 2;
              await loadPrograms();
              attachments.value = await api.get(`/applications/${id}/attachments`).catch(() => []);
              return;
            }
          } catch (err) {
            /* gone: start afresh */
          }
          localStorage.removeItem(DRAFT_KEY);
        }
        if (me && me.real_name) draft.members = [{ name: me.real_name, id_number: "", relation: "self", health: "", employment: "" }];
      });
      async function loadPrograms() {
        const code = draft.region[draft.region.length - 1];
        programs.value = code ? await api.get(`/programs?region=${code}`) : [];
      }
      async function next() {
        showError(null, errors);
        store.message = "";
        const name = STEPS[step.value];
        if (name === "region") {
          if (draft.region.length < 4) {
            errors.region = "请选到乡镇（街道）一级";
            return;
          }
          await loadPrograms();
        }
        if (name === "program") {
          if (!draft.program) {
            errors.program = "请选择要申请的救助项目";
            return;
          }
          if (!draft.id) {
            const body = Object.assign({ program: draft.program }, fields());
            if (draft.proxy) body.on_behalf_of = Object.assign({}, draft.on_behalf_of, { id_number: draft.on_behalf_of.id_number.toUpperCase() });
            try {
              const created = await api.post("/applications", body, { idempotencyKey: api.newKey() });
              draft.id = created.id;
              localStorage.setItem(DRAFT_KEY, String(created.id));
              if (draft.proxy) fill(created);
              saveState.value = "已保存草稿";
            } catch (err) {
              for (const [k, v] of Object.entries(err.errors || {})) errors[k.replace(/^on_behalf_of\./, "proxy_")] = v;
              store.message = err.message;
              return;
            }
          }
        }
        if (name !== "region" && name !== "program") await save();
        if (Object.keys(errors).length) return;
        step.value += 1;
      }
      async function uploadMaterial(code, fileList) {
        const file = fileList && fileList[0];
        if (!file) return;
        const form = new FormData();
        form.append("material", code);
        form.append("file", file, file.name);
        try {
          await api.upload(`/applications/${draft.id}/attachments`, form);
          attachments.value = await api.get(`/applications/${draft.id}/attachments`);
          delete errors[`material_${code}`];
        } catch (err) {
          errors[`material_${code}`] = (err.errors && err.errors.file) || err.message;
        }
      }
      async function submit() {
        try {
          await save();
          const done = await RL.outbox.send({ path: `/applications/${draft.id}/submit`, json: undefined, label: "提交申请", applicationId: draft.id });
          if (done.sent) {
            localStorage.removeItem(DRAFT_KEY);
            go(`/application?id=${draft.id}`);
          } else outcome.value = "queued";
        } catch (err) {
          showError(err, errors);
        }
      }

      function list(kind, make, render) {
        return [
          ...draft[kind].map((row, i) =>
            h("fieldset", { class: "rl-card rl-row-card", "data-testid": `${kind}-${i}` }, [
              h("legend", `${{ members: "家庭成员", incomes: "收入", assets: "财产" }[kind]} ${i + 1}`),
              ...render(row, i),
              h(V.Button, { size: "small", plain: true, type: "danger", "aria-label": `删除第${i + 1}项`, onClick: () => { draft[kind].splice(i, 1); changed(); } }, () => "删除"),
            ]),
          ),
          h(V.Button, { id: `add-${kind}`, block: true, plain: true, type: "primary", icon: "plus", onClick: () => { draft[kind].push(make()); changed(); } }, () => ({ members: "添加家庭成员", incomes: "添加一项收入", assets: "添加一项财产" }[kind])),
        ];
      }
      const set = (row, key) => (value) => {
        row[key] = value;
        changed();
      };
      const err = (kind, i, key) => errors[`${kind}.${i}.${key}`];

      return () => {
        const name = STEPS[step.value];
        const body = [
          h("h1", { class: "rl-title" }, "申请救助"),
          h(V.Steps, { active: step.value, class: "rl-steps" }, () => ["地区", "项目", "住址", "成员", "收入", "财产", "材料", "提交"].map((t) => h(V.Step, {}, () => t))),
          h("p", { id: "save-state", class: "rl-hint", "aria-live": "polite" }, saveState.value),
        ];
        if (outcome.value === "queued") {
          body.push(h("section", { class: "rl-card", id: "queued" }, [h("p", { class: "rl-big" }, "待发送"), h("p", "网络不通，申请已保存在本机，网络恢复后会自动提交，不会重复提交。")]));
          return h("div", body);
        }
        if (name === "region") {
          body.push(h("h2", { class: "rl-subtitle" }, "您住在哪里？"), h(RegionPicker, { modelValue: draft.region, "onUpdate:modelValue": (v) => { draft.region = v; } }));
          if (errors.region) body.push(h("p", { class: "rl-error rl-field-error" }, errors.region));
        } else if (name === "program") {
          body.push(
            h("h2", { class: "rl-subtitle" }, "申请哪一项救助？"),
            h("div", { role: "radiogroup", "aria-label": "救助项目" }, programs.value.map((p) =>
              h("label", { class: "rl-choice" }, [
                h("input", { type: "radio", name: "program", value: p.program, checked: draft.program === p.program, "data-testid": `program-${p.program}`, onChange: () => { draft.program = p.program; } }),
                ` ${p.label}${p.monthly_standard ? `（当地标准每人每月${p.monthly_standard}元）` : ""}`,
              ]),
            )),
            errors.program ? h("p", { class: "rl-error rl-field-error" }, errors.program) : null,
            draft.id ? null : h("label", { class: "rl-choice" }, [h("input", { type: "checkbox", id: "proxy", checked: draft.proxy, onChange: (e) => { draft.proxy = e.target.checked; } }), " 我是为他人代办"]),
          );
          if (draft.proxy && !draft.id) {
            const o = draft.on_behalf_of;
            body.push(h("fieldset", { class: "rl-card" }, [
              h("legend", "被代办人"),
              input("proxy-name", "姓名", o.name, (v) => { o.name = v; }, errors.proxy_name),
              input("proxy-id-number", "身份证号码", o.id_number, (v) => { o.id_number = v; }, errors.proxy_id_number, { attrs: { maxlength: 18 } }),
              select("proxy-relation", "您和TA的关系", o.relation, PROXY_RELATIONS, (v) => { o.relation = v; }, errors.proxy_relation),
              select("proxy-reason", "代办原因", o.reason, PROXY_REASONS, (v) => { o.reason = v; }, errors.proxy_reason),
            ]));
          }
        } else if (name === "address") {
          body.push(
            h("h2", { class: "rl-subtitle" }, "详细住址和困难情况"),
            input("residence-address", "详细住址", draft.residence_address, set(draft, "residence_address"), errors.residence_address),
            input("hardship-reason", "为什么申请（困难情况）", draft.hardship_reason, set(draft, "hardship_reason"), errors.hardship_reason, { textarea: true, attrs: { rows: 4 } }),
          );
        } else if (name === "members") {
          body.push(h("h2", { class: "rl-subtitle" }, "家里有哪些人？（共同生活的家庭成员）"), ...list("members", () => ({ name: "", id_number: "", relation: "", health: "", employment: "" }), (m, i) => [
            input(`member-${i}-name`, "姓名", m.name, set(m, "name"), err("members", i, "name")),
            input(`member-${i}-id-number`, "身份证号码", m.id_number, set(m, "id_number"), err("members", i, "id_number"), { attrs: { maxlength: 18 } }),
            select(`member-${i}-relation`, "与申请人关系", m.relation, RELATIONS, set(m, "relation"), err("members", i, "relation")),
            select(`member-${i}-health`, "健康状况", m.health, HEALTH, set(m, "health"), err("members", i, "health")),
            select(`member-${i}-employment`, "就业情况", m.employment, EMPLOYMENT, set(m, "employment"), err("members", i, "employment")),
          ]));
        } else if (name === "incomes") {
          const who = Object.fromEntries(draft.members.map((m, i) => [String(i), m.name || `成员${i + 1}`]));
          body.push(h("h2", { class: "rl-subtitle" }, "家里每月有哪些收入？（没有可直接下一步）"), ...list("incomes", () => ({ category: "", monthly_amount: "", member_index: "" }), (row, i) => [
            select(`income-${i}-category`, "收入类别", row.category, INCOMES, set(row, "category"), err("incomes", i, "category")),
            input(`income-${i}-amount`, "每月金额（元）", row.monthly_amount, set(row, "monthly_amount"), err("incomes", i, "monthly_amount"), { attrs: { inputmode: "decimal" } }),
            select(`income-${i}-member`, "谁的收入", row.member_index, who, set(row, "member_index"), err("incomes", i, "member_index")),
          ]));
        } else if (name === "assets") {
          body.push(h("h2", { class: "rl-subtitle" }, "家里有哪些财产？（没有可直接下一步）"), ...list("assets", () => ({ kind: "", description: "", address: "", area_sqm: "", value_yuan: "" }), (row, i) => [
            select(`asset-${i}-kind`, "财产类别", row.kind, ASSETS, set(row, "kind"), err("assets", i, "kind")),
            ...(row.kind === "housing" || row.kind === "non_residential"
              ? [
                  input(`asset-${i}-address`, "房产地址", row.address, set(row, "address"), err("assets", i, "address")),
                  input(`asset-${i}-area`, "面积（平方米）", row.area_sqm, set(row, "area_sqm"), err("assets", i, "area_sqm"), { attrs: { inputmode: "decimal" } }),
                ]
              : [
                  input(`asset-${i}-description`, "说明", row.description, set(row, "description"), err("assets", i, "description")),
                  input(`asset-${i}-value`, "价值（元）", row.value_yuan, set(row, "value_yuan"), err("assets", i, "value_yuan"), { attrs: { inputmode: "decimal" } }),
                ]),
          ]));
        } else if (name === "materials") {
          const program = programs.value.find((p) => p.program === draft.program);
          const needed = program ? program.required_materials : [];
          body.push(h("h2", { class: "rl-subtitle" }, "拍照上传材料"), ...needed.map((m) => {
            const have = attachments.value.filter((a) => a.material === m.code);
            return h("div", { class: "rl-card", "data-testid": `material-${m.code}` }, [
              h("p", [h("strong", m.label), have.length ? h("span", { class: "rl-ok", "data-testid": `material-done-${m.code}` }, ` 已上传${have.length}张`) : " 未上传"]),
              h("label", { for: `camera-${m.code}`, class: "rl-file" }, `拍照（${m.label}）`),
              h("input", { id: `camera-${m.code}`, type: "file", accept: "image/*", capture: "environment", class: "rl-file-input", onChange: (e) => uploadMaterial(m.code, e.target.files) }),
              h("label", { for: `album-${m.code}`, class: "rl-file" }, `从相册选（${m.label}）`),
              h("input", { id: `album-${m.code}`, type: "file", accept: "image/*,application/pdf", class: "rl-file-input", onChange: (e) => uploadMaterial(m.code, e.target.files) }),
              errors[`material_${m.code}`] ? h("p", { class: "rl-error" }, errors[`material_${m.code}`]) : null,
            ]);
          }));
        } else if (name === "submit") {
          body.push(
            h("h2", { class: "rl-subtitle" }, "确认并提交"),
            h("section", { class: "rl-card", id: "summary" }, [
              h("p", `家庭成员 ${draft.members.length} 人：${draft.members.map((m) => m.name).join("、")}`),
              h("p", `收入 ${draft.incomes.length} 项，财产 ${draft.assets.length} 项，材料 ${attachments.value.length} 份`),
            ]),
            Object.keys(errors).length ? h("ul", { class: "rl-error", id: "submit-errors" }, Object.values(errors).map((e) => h("li", e))) : null,
            button("提交申请", submit, { id: "submit-application" }),
          );
        }
        if (name !== "submit") body.push(button("下一步", next, { id: "next" }));
        if (step.value > 0) body.push(h(V.Button, { id: "back", block: true, plain: true, type: "default", class: "rl-button", onClick: () => { step.value -= 1; } }, () => "上一步"));
        return h("div", body);
      };
    },
  };

  const ApplicationDetail = {
    setup() {
      const app = ref(null);
      const timeline = ref([]);
      const reply = reactive({ text: "" });
      const errors = reactive({});
      async function refresh() {
        app.value = await api.get(`/applications/${route.query.id}`);
        timeline.value = await api.get(`/applications/${route.query.id}/timeline`);
      }
      onMounted(() => {
        if (requireLogin()) refresh().catch((err) => showError(err));
      });
      async function sendReply() {
        try {
          await api.post(`/applications/${route.query.id}/corrections`, { text: reply.text, attachment_ids: [] }, { idempotencyKey: api.newKey() });
          reply.text = "";
          await refresh();
        } catch (err) {
          showError(err, errors);
        }
      }
      return () => {
        if (!app.value) return h(V.Loading, { vertical: true }, () => "正在加载…");
        const a = app.value;
        return h("div", [
          h("h1", { class: "rl-title" }, `${a.program_label} ${a.reference}`),
          h("p", { class: "rl-big", id: "application-status" }, a.status_label),
          a.is_proxy ? h("p", { class: "rl-hint", id: "proxy-badge" }, `代办：为${a.applicant_name || ""}申请`) : null,
          h("h2", { class: "rl-subtitle" }, "办理进度"),
          h(V.Steps, { direction: "vertical", active: timeline.value.length - 1, id: "timeline" }, () =>
            timeline.value.map((e) => h(V.Step, {}, () => [h("p", e.text || e.status_label), h("p", { class: "rl-hint" }, new Date(e.at).toLocaleString("zh-CN"))])),
          ),
          a.status === "correction_requested"
            ? h("section", { class: "rl-card", id: "correction" }, [
                h("h2", { class: "rl-subtitle" }, "补正材料"),
                input("correction-text", "补正说明", reply.text, (v) => { reply.text = v; }, errors.text, { textarea: true }),
                button("提交补正", sendReply, { id: "send-correction" }),
              ])
            : null,
        ]);
      };
    },
  };


  // --- one-tap report, my reports, my benefits -----------------------------------------------------------

  const Report = {
    setup() {
      const options = reactive({ categories: {}, age_groups: {}, urgency: {} });
      const form = reactive({ category: "", urgency: "normal", region: [], address: "", person_name: "", age_group: "", description: "" });
      const gps = ref(null);
      const errors = reactive({});
      const photos = ref(null);
      const outcome = ref("");
      onMounted(async () => {
        if (!requireLogin()) return;
        const lists = await api.get("/report-categories");
        const toMap = (rows) => Object.fromEntries(rows.map((r) => [r.code, r.label]));
        options.categories = toMap(lists.categories);
        options.age_groups = toMap(lists.age_groups);
        options.urgency = toMap(lists.urgency);
      });
      function locate() {
        if (!navigator.geolocation) {
          errors.location = "本机不支持定位，请在上面选择乡镇（街道）和村（社区）";
          return;
        }
        navigator.geolocation.getCurrentPosition(
          (pos) => {
            // the browser's Geolocation API gives WGS-84 (GPS) coordinates; sent as such, never shifted
            gps.value = { latitude: Number(pos.coords.latitude.toFixed(6)), longitude: Number(pos.coords.longitude.toFixed(6)) };
            delete errors.location;
          },
          () => {
            errors.location = "无法获取位置，请允许定位，或在上面选择乡镇（街道）和村（社区）";
          },
          { enableHighAccuracy: true, timeout: 10000 },
        );
      }
      async function send() {
        showError(null, errors);
        const [, , , township, village] = form.region;
        const body = {
          category: form.category || null,
          urgency: form.urgency,
          township_code: township || "",
          village_code: village || null,
          address: form.address || null,
          person_name: form.person_name || null,
          age_group: form.age_group || null,
          description: form.description || null,
        };
        if (!body.category) errors.category = "请选择困难类别";
        if (!township) errors.township_code = "请选择乡镇（街道）";
        if (Object.keys(errors).length) return;
        if (gps.value) Object.assign(body, gps.value, { coordinate_system: "wgs84" });
        const files = Array.from((photos.value && photos.value.files) || []).map((f) => ({ field: "file", blob: f, name: f.name }));
        try {
          const done = await RL.outbox.send({ path: "/reports", json: body, label: "报告", files, filesPath: "/reports/{id}/photos" });
          if (done.sent) go(`/my-report?id=${done.result.id}`);
          else outcome.value = "queued";
        } catch (err) {
          showError(err, errors);
        }
      }
      return () => {
        if (outcome.value === "queued") {
          return h("section", { class: "rl-card", id: "queued" }, [h("p", { class: "rl-big" }, "待发送"), h("p", "网络不通，报告已保存在本机，网络恢复后自动发送，不会重复。")]);
        }
        return h("div", [
          h("h1", { class: "rl-title" }, "一键报告困难群众"),
          select("report-category", "困难类别", form.category, options.categories, (v) => { form.category = v; }, errors.category),
          select("report-urgency", "紧急程度", form.urgency, options.urgency, (v) => { form.urgency = v; }, errors.urgency),
          h("h2", { class: "rl-subtitle" }, "在哪里？"),
          h(RegionPicker, { modelValue: form.region, "onUpdate:modelValue": (v) => { form.region = v; } }),
          errors.township_code ? h("p", { class: "rl-error rl-field-error" }, errors.township_code) : null,
          h(V.Button, { id: "locate", block: true, plain: true, type: "primary", class: "rl-button", onClick: locate }, () => "使用手机定位（可选）"),
          gps.value
            ? h("p", { id: "gps", class: "rl-ok" }, `已定位：纬度 ${gps.value.latitude}，经度 ${gps.value.longitude}（WGS-84 坐标，即 GPS 原始坐标）`)
            : null,
          errors.location ? h("p", { class: "rl-error" }, errors.location) : null,
          input("report-address", "详细地点（可选）", form.address, (v) => { form.address = v; }, errors.address),
          h("h2", { class: "rl-subtitle" }, "当事人（知道的话填写）"),
          input("report-person-name", "姓名", form.person_name, (v) => { form.person_name = v; }, errors.person_name),
          select("report-age-group", "年龄段", form.age_group, options.age_groups, (v) => { form.age_group = v; }, errors.age_group),
          input("report-description", "情况描述", form.description, (v) => { form.description = v; }, errors.description, { textarea: true, attrs: { rows: 3 } }),
          h("label", { for: "report-photos", class: "rl-label" }, "照片（可选，最多9张）"),
          h("input", { ref: photos, id: "report-photos", type: "file", accept: "image/*", multiple: true }),
          button("提交报告", send, { id: "send-report" }),
        ]);
      };
    },
  };

  const MyReports = {
    setup() {
      const items = ref(null);
      onMounted(async () => {
        if (requireLogin()) items.value = await api.get("/reports").catch((err) => (showError(err), []));
      });
      return () =>
        h("div", [
          h("h1", { class: "rl-title" }, "我的报告"),
          items.value && items.value.length === 0 ? h(V.Empty, { description: "还没有报告" }) : null,
          ...(items.value || []).map((r) =>
            h(V.Cell, { title: `${r.category_label} ${r.reference}`, value: r.status_label, isLink: true, "data-testid": `report-${r.id}`, onClick: () => go(`/my-report?id=${r.id}`) }),
          ),
        ]);
    },
  };

  const MyReport = {
    setup() {
      const report = ref(null);
      onMounted(async () => {
        if (requireLogin()) report.value = await api.get(`/reports/${route.query.id}`).catch((err) => (showError(err), null));
      });
      return () => {
        const r = report.value;
        if (!r) return h(V.Loading, { vertical: true }, () => "正在加载…");
        return h("div", [
          h("h1", { class: "rl-title" }, `${r.category_label} ${r.reference}`),
          h("p", { class: "rl-big", id: "report-status" }, r.status_label),
          h("p", { class: "rl-hint", id: "report-photos-count" }, `照片 ${(r.photos || []).length} 张`),
          h("h2", { class: "rl-subtitle" }, "处理进度"),
          h("ol", { id: "report-progress" }, (r.progress || []).map((p) => h("li", [p.text, h("span", { class: "rl-hint" }, ` ${new Date(p.at).toLocaleString("zh-CN")}`)]))),
        ]);
      };
    },
  };

  // 我的待遇: the household's enrollments (amount, months paid on locked rolls, next review, open transfer)
  const yuan = (v) => `${v} 元/月`;

  function benefitCard(b, onClick) {
    return h("section", { class: "rl-card rl-benefit", "data-testid": `benefit-${b.id}`, onClick }, [
      h("h2", { class: "rl-subtitle" }, `${b.program_label}（${b.member_count} 人）`),
      h("p", { class: "rl-big", "data-field": "amount" }, yuan(b.monthly_amount)),
      h("p", { "data-field": "status" }, b.status !== "active" && b.status_reason ? `${b.status_label}：${b.status_reason}` : b.status_label),
      h("p", { class: "rl-hint", "data-field": "paid" }, b.months_paid
        ? `已发放 ${b.months_paid} 个月，最近一次 ${b.last_paid_month}`
        : "尚未发放（每月发放名册锁定后显示）"),
      b.next_review_date ? h("p", { class: "rl-hint", "data-field": "review" }, `下次复核：${b.next_review_date}`) : null,
      b.bank_account_masked ? h("p", { class: "rl-hint" }, `发放账户：${b.bank_account_masked}`) : null,
      b.open_transfer
        ? h("p", { class: "rl-hint", "data-field": "transfer" }, `资格转移：${b.open_transfer.status_label}（转入 ${b.open_transfer.to_township_name || b.open_transfer.to_township_code}）`)
        : null,
    ]);
  }

  const Benefits = {
    setup() {
      const items = ref(null);
      onMounted(async () => {
        if (requireLogin()) items.value = await api.get("/me/benefits").catch((err) => (showError(err), []));
      });
      return () => {
        if (items.value === null) return h(V.Loading, { vertical: true }, () => "正在加载…");
        return h("div", [
          h("h1", { class: "rl-title" }, "我的待遇"),
          items.value.length === 0
            ? h(V.Empty, { id: "benefits-empty", description: "暂无待遇信息。申请获批后，每月发放的救助金会显示在这里。" })
            : null,
          ...items.value.map((b) => benefitCard(b, () => go(`/benefit?id=${b.id}`))),
        ]);
      };
    },
  };

  const BenefitDetail = {
    setup() {
      const benefit = ref(null);
      const transfer = ref(null); // the open (or latest) transfer of this benefit, from /me/transfers
      const form = reactive({ open: false, region: [], address: "", reason: "" });
      const errors = reactive({});
      const file = ref(null);
      let key = null; // one Idempotency-Key per request attempt: a retry after a lost answer makes one transfer
      async function refresh() {
        benefit.value = await api.get(`/me/benefits/${route.query.id}`);
        const mine = await api.get("/me/transfers");
        transfer.value = mine.find((t) => String(t.enrollment_id) === String(route.query.id)) || null;
      }
      onMounted(() => {
        if (requireLogin()) refresh().catch((err) => showError(err));
      });
      async function requestTransfer() {
        for (const k of Object.keys(errors)) delete errors[k];
        const [, , , township, village] = form.region;
        const chosen = file.value && file.value.files[0];
        if (!township) errors.to_township_code = "请选到新户籍所在的乡镇（街道）";
        if (!chosen) errors.file = "请上传新户口簿本人页的照片";
        if (Object.keys(errors).length) return;
        const body = new FormData();
        body.append("to_township_code", township);
        if (village) body.append("to_village_code", village);
        if (form.address) body.append("to_address", form.address);
        if (form.reason) body.append("reason", form.reason);
        body.append("file", chosen);
        key = key || api.newKey();
        try {
          await api.upload(`/me/benefits/${route.query.id}/transfer`, body, { idempotencyKey: key });
          key = null;
          form.open = false;
          store.message = "";
          await refresh();
        } catch (err) {
          showError(err, errors);
        }
      }
      async function cancelTransfer() {
        try {
          await api.post(`/me/transfers/${transfer.value.id}/cancel`, {}, { idempotencyKey: api.newKey() });
          await refresh();
        } catch (err) {
          showError(err);
        }
      }
      function transferCard(t) {
        return h("section", { class: "rl-card", id: "transfer" }, [
          h("h2", { class: "rl-subtitle" }, "资格转移"),
          h("p", { class: "rl-big", id: "transfer-status" }, t.status_label),
          h("p", { id: "transfer-text" }, t.text),
          h("p", { class: "rl-hint" }, `转入：${t.to_county_name || ""}${t.to_township_name || t.to_township_code}`),
          t.can_cancel ? button("撤回转移申请", cancelTransfer, { id: "cancel-transfer", plain: true, type: "default" }) : null,
        ]);
      }
      function transferForm() {
        return h("section", { class: "rl-card", id: "transfer-form" }, [
          h("h2", { class: "rl-subtitle" }, "户籍迁到省内其他县（市、区）"),
          h("p", { class: "rl-hint" }, "待遇随户籍转移，无需重新申请。原县确认最后发放月份后，新县从下个月起继续发放。"),
          h(RegionPicker, { modelValue: form.region, "onUpdate:modelValue": (v) => { form.region = v; } }),
          errors.to_township_code ? h("p", { class: "rl-error rl-field-error", id: "transfer-township-error" }, errors.to_township_code) : null,
          errors.to_village_code ? h("p", { class: "rl-error rl-field-error" }, errors.to_village_code) : null,
          input("transfer-address", "新住址（可选）", form.address, (v) => { form.address = v; }, errors.to_address),
          input("transfer-reason", "迁移原因（可选）", form.reason, (v) => { form.reason = v; }, errors.reason),
          h("label", { for: "transfer-file", class: "rl-label" }, "新户口簿本人页"),
          h("input", { ref: file, id: "transfer-file", type: "file", accept: "image/*,application/pdf" }),
          errors.file ? h("p", { class: "rl-error rl-field-error", id: "transfer-file-error" }, errors.file) : null,
          button("提交转移申请", requestTransfer, { id: "send-transfer" }),
        ]);
      }
      return () => {
        const b = benefit.value;
        if (!b) return h(V.Loading, { vertical: true }, () => "正在加载…");
        const open = transfer.value && ["requested", "released"].includes(transfer.value.status);
        return h("div", [
          h("h1", { class: "rl-title" }, `${b.program_label} ${b.reference}`),
          benefitCard(b),
          transfer.value ? transferCard(transfer.value) : null,
          !open && b.can_transfer && !form.open
            ? button("户籍迁移，申请资格转移", () => { form.open = true; }, { id: "start-transfer", plain: true })
            : null,
          !open && b.can_transfer && form.open ? transferForm() : null,
          h("h2", { class: "rl-subtitle" }, "变更记录"),
          h("ol", { id: "benefit-history" }, (b.history || []).map((e) =>
            h("li", [h("p", e.text), e.reason ? h("p", { class: "rl-hint" }, `原因：${e.reason}`) : null,
              h("p", { class: "rl-hint" }, new Date(e.at).toLocaleString("zh-CN"))]))),
          h("p", { class: "rl-hint", id: "appeal-route" }, b.appeal_route),
        ]);
      };
    },
  };

  const ROUTES = {
    "/": { view: Home, title: "救助通" },
    "/login": { view: Login, title: "登录" },
    "/real-name": { view: RealName, title: "实名核验" },
    "/applications": { view: Applications, title: "我的申请" },
    "/authorize": { view: Authorize, title: "授权" },
    "/apply": { view: Apply, title: "申请救助" },
    "/application": { view: ApplicationDetail, title: "申请进度" },
    "/report": { view: Report, title: "一键报告" },
    "/reports": { view: MyReports, title: "我的报告" },
    "/my-report": { view: MyReport, title: "报告进度" },
    "/benefits": { view: Benefits, title: "我的待遇" },
    "/benefit": { view: BenefitDetail, title: "待遇详情" },
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
            store.outbox.length
              ? h("p", { id: "outbox", class: "rl-outbox", role: "status" }, `待发送 ${store.outbox.length} 项：${store.outbox.map((i) => i.label).join("、")}（网络恢复后自动发送）`)
              : null,
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
  RL.outbox.onRefused((item, err) => {
    store.message = `“${item.label}”未能提交：${err.message}${Object.values(err.errors || {}).length ? `（${Object.values(err.errors).join("；")}）` : ""}，请修改后重新提交`;
  });
  RL.outbox.subscribe((items) => {
    store.outbox = items;
  });
  RL.outbox.flush();
})();
