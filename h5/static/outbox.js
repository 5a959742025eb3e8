// On-device outbox (IndexedDB): a submit or report that failed for the network waits here with its
// Idempotency-Key and is sent again when the network returns. The key makes a repeat harmless: the server
// answers a repeated key with the first result, so nothing is ever created twice.
"use strict";

(function () {
  const DB_NAME = "relieflink-h5";
  const STORE = "outbox";
  const listeners = new Set();
  const refusedListeners = new Set();
  let flushing = false;

  function open() {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "key" });
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  async function tx(mode, work) {
    const db = await open();
    return new Promise((resolve, reject) => {
      const t = db.transaction(STORE, mode);
      const result = work(t.objectStore(STORE));
      t.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
      t.onerror = () => reject(t.error);
    });
  }

  const all = () => tx("readonly", (s) => s.getAll());
  const put = (item) => tx("readwrite", (s) => s.put(item));
  const remove = (key) => tx("readwrite", (s) => s.delete(key));

  async function changed() {
    const items = await all();
    for (const fn of listeners) fn(items);
  }

  // kept and sent again with the same key: no answer at all, the service unavailable (503
  // service_unavailable: e.g. the database restarting while the request committed, its outcome unknown), or
  // the same key still in progress (409)
  const retryLater = (err) =>
    err.network || err.reason === "service_unavailable" || err.reason === "idempotency_in_progress";

  // send({path, json, label}) → {sent: true, result} | {sent: false, queued: true}; throws ApiError for
  // an answer that retrying cannot help (the item is then dropped)
  async function send(entry) {
    const item = Object.assign({ key: RL.api.newKey(), createdAt: new Date().toISOString() }, entry);
    await put(item);
    await changed();
    return attempt(item);
  }

  async function attempt(item) {
    try {
      const result = await RL.api.post(item.path, item.json, { idempotencyKey: item.key });
      // photos kept with the item (IndexedDB stores Blobs) go up once the record exists
      for (const file of item.files || []) {
        const form = new FormData();
        form.append(file.field, file.blob, file.name);
        await RL.api.upload(item.filesPath.replace("{id}", result.id), form).catch((err) => {
          if (err.network) throw err;
        });
      }
      await remove(item.key);
      await changed();
      return { sent: true, result };
    } catch (err) {
      if (retryLater(err)) return { sent: false, queued: true };
      await remove(item.key);
      await changed();
      throw err;
    }
  }

  async function flush() {
    if (flushing || !RL.api.auth.token()) return;
    flushing = true;
    try {
      for (const item of await all()) {
        try {
          const done = await attempt(item);
          if (!done.sent) break; // still offline
        } catch (err) {
          for (const fn of refusedListeners) fn(item, err); // refused by the server: say so, do not retry
        }
      }
    } finally {
      flushing = false;
    }
  }

  window.addEventListener("online", flush);
  setInterval(() => {
    if (navigator.onLine) flush();
  }, 15000);

  window.RL = window.RL || {};
  window.RL.outbox = {
    all,
    send,
    flush,
    onRefused(fn) {
      refusedListeners.add(fn);
    },
    subscribe(fn) {
      listeners.add(fn);
      all().then(fn);
      return () => listeners.delete(fn);
    },
  };
})();
