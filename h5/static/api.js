// API client for the H5 pages: the public API under /api/v1 only. Errors come back as
// {code, status, message, errors}; `errors` is flattened to {"field": "中文提示", "members.0.name": "…"}
// so a screen can show each message next to its field.
"use strict";

(function () {
  const NETWORK_MESSAGE = "网络连接失败，请检查网络后重试";
  const TOKEN_KEY = "rl_access_token";

  class ApiError extends Error {
    constructor(httpStatus, body) {
      super((body && body.message) || "请求失败，请稍后重试");
      this.httpStatus = httpStatus;
      this.reason = (body && body.status) || "error";
      this.errors = flatten((body && body.errors) || {});
      this.network = httpStatus === 0;
    }
  }

  function flatten(errors, prefix, out) {
    out = out || {};
    for (const [key, value] of Object.entries(errors)) {
      const field = prefix ? `${prefix}.${key}` : key;
      if (Array.isArray(value) && value.every((v) => typeof v === "string")) out[field] = value.join("；");
      else if (typeof value === "string") out[field] = value;
      else if (value && typeof value === "object") flatten(value, field, out);
    }
    return out;
  }

  function newKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  const auth = {
    token: () => sessionStorage.getItem(TOKEN_KEY),
    set: (token) => sessionStorage.setItem(TOKEN_KEY, token),
    clear: () => sessionStorage.removeItem(TOKEN_KEY),
  };

  // request(method, path, {json, form, headers, idempotencyKey}) → parsed body; throws ApiError
  async function request(method, path, options) {
    const opts = options || {};
    const headers = Object.assign({ Accept: "application/json" }, opts.headers || {});
    const token = auth.token();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (opts.idempotencyKey) headers["Idempotency-Key"] = opts.idempotencyKey;
    let body;
    if (opts.form) body = opts.form;
    else if (opts.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(opts.json);
    }
    let resp;
    try {
      resp = await fetch(`/api/v1${path}`, { method, headers, body, credentials: "omit" });
    } catch (err) {
      throw new ApiError(0, { status: "network_error", message: NETWORK_MESSAGE });
    }
    let data = {};
    if (resp.status !== 204) {
      try {
        data = await resp.json();
      } catch (err) {
        data = {};
      }
    }
    if (!resp.ok) throw new ApiError(resp.status, data);
    return data;
  }

  window.RL = window.RL || {};
  window.RL.api = {
    ApiError,
    auth,
    newKey,
    request,
    get: (path, opts) => request("GET", path, opts),
    post: (path, json, opts) => request("POST", path, Object.assign({ json }, opts || {})),
    upload: (path, form, opts) => request("POST", path, Object.assign({ form }, opts || {})),
  };
})();
