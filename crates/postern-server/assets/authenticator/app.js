// The Postern Authenticator as a web app: a client of the same device API as the CLI
// (postern_proto::authenticator). Device keys are non-extractable WebCrypto keys kept in
// IndexedDB; every call but activation is signed (method, path, body digest, time, device id).
// Offline codes come from the TOTP seed, kept encrypted under a non-extractable AES-GCM key.
// Requests live on the server: the app fetches them on start, on returning to the foreground,
// on reconnect, on pull-to-refresh and from the Refresh button, and follows the event stream
// while it is open. Web Push only wakes it. No number is ever sent to the app: the user types it.

const VERSION = "web 1";
const API = new URL("../api/authenticator/v1/", import.meta.url);
const MAX_STREAMS = 4;

// ---------- bytes ----------
const enc = new TextEncoder();
export const b64u = (bytes) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const unb64u = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
function base32(s) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0, value = 0;
  const out = [];
  for (const c of s.toUpperCase().replace(/=+$/, "")) {
    const i = alphabet.indexOf(c);
    if (i < 0) throw new Error("the code secret is not base32");
    value = ((value << 5) | i) & 0xfff;
    bits += 5;
    if (bits >= 8) { out.push((value >>> (bits - 8)) & 255); bits -= 8; }
  }
  return new Uint8Array(out);
}

// ---------- storage (IndexedDB) ----------
const done = (r) => new Promise((ok, fail) => { r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
let database;
function db() {
  database ??= new Promise((ok, fail) => {
    const open = indexedDB.open("postern-authenticator", 1);
    open.onupgradeneeded = () => {
      open.result.createObjectStore("accounts", { keyPath: "id" });
      open.result.createObjectStore("keys");
    };
    open.onsuccess = () => ok(open.result);
    open.onerror = () => fail(open.error);
  });
  return database;
}
const objects = async (name, mode = "readonly") => (await db()).transaction(name, mode).objectStore(name);
const loadAccounts = async () => done((await objects("accounts")).getAll());
const saveAccount = async (a) => done((await objects("accounts", "readwrite")).put(a));
const forgetAccount = async (id) => done((await objects("accounts", "readwrite")).delete(id));

/** The AES-GCM key that seals TOTP seeds: made once, non-extractable, never leaves this browser. */
async function sealingKey() {
  const found = await done((await objects("keys")).get("seed-key"));
  if (found) return found;
  const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
  await done((await objects("keys", "readwrite")).put(key, "seed-key"));
  return key;
}

// ---------- state ----------
let accounts = [];
const live = new Map(); // account id → { connected, following, abort, lastHeard, lastTs }
const requests = new Map(); // "account/challenge" → { account, c, el, shown, over }
const hmacKeys = new Map();
let view = "requests";
let lastCheck = null;

const $ = (id) => document.getElementById(id);
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== false && v != null) el.setAttribute(k, v === true ? "" : v);
  }
  el.append(...children.filter((c) => c != null));
  return el;
}
const liveOf = (a) => { if (!live.has(a.id)) live.set(a.id, { lastTs: 0 }); return live.get(a.id); };
const serverNow = (a) => Date.now() + (a?.offsetMs ?? 0);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function heard(a, serverTimeMs) {
  const l = liveOf(a);
  l.lastHeard = Date.now();
  if (serverTimeMs) {
    const offset = serverTimeMs - Date.now();
    // Follow the server's clock (codes and signatures use it); write only real changes.
    if (Math.abs(offset - (a.offsetMs ?? 0)) > 1500) { a.offsetMs = offset; saveAccount(a); }
  }
}

// ---------- signed requests ----------
class ApiError extends Error {
  constructor(status, error, message) { super(message); this.status = status; this.error = error; }
}

async function signedHeaders(a, method, url, body) {
  const l = liveOf(a);
  // Strictly increasing: Ed25519 signatures are deterministic, and a repeat would be refused as a replay.
  const ts = Math.max(Math.round(serverNow(a)), l.lastTs + 1);
  l.lastTs = ts;
  const digest = b64u(await crypto.subtle.digest("SHA-256", enc.encode(body)));
  const input = [method, url.pathname + url.search, digest, ts, a.id].join("\n");
  const scheme = a.alg === "p256" ? { name: "ECDSA", hash: "SHA-256" } : { name: "Ed25519" };
  const sig = await crypto.subtle.sign(scheme, a.privateKey, enc.encode(input));
  return { "postern-device": a.id, "postern-timestamp": String(ts), "postern-signature": b64u(sig) };
}

/** A signed call; a clock the server says is off is corrected from its answer and tried once more. */
async function call(a, method, path, payload, options = {}) {
  const url = new URL(path, API);
  const body = payload === undefined ? "" : JSON.stringify(payload);
  for (let attempt = 0; ; attempt++) {
    const headers = await signedHeaders(a, method, url, body);
    if (body) headers["content-type"] = "application/json";
    const res = await fetch(url, { method, headers, body: body || undefined, cache: "no-store", signal: options.signal });
    if (res.status === 401 && attempt === 0) {
      const err = await res.clone().json().catch(() => null);
      if (err?.error === "clock_skew" && err.server_time_ms) { heard(a, err.server_time_ms); continue; }
    }
    return res;
  }
}

/** The body of a successful answer; a refusal becomes an ApiError (a removed device is marked). */
async function expect(a, res) {
  if (res.ok) { heard(a); return res.status === 204 ? null : res.json(); }
  const err = await res.json().catch(() => ({ error: "server_error", message: `the server answered ${res.status}` }));
  if (err.error === "unknown_device") await markRemoved(a);
  throw new ApiError(res.status, err.error, err.message);
}

async function markRemoved(a) {
  if (a.removed) return;
  a.removed = `This phone was removed from ${a.username}'s account at ${a.organisation}.`;
  liveOf(a).abort?.abort();
  for (const [key, r] of requests) if (r.account.id === a.id) { r.el?.remove(); requests.delete(key); }
  await saveAccount(a);
  renderAll();
}

// ---------- activation ----------
function deviceName() {
  const ua = navigator.userAgent;
  const browser = /SamsungBrowser/.test(ua) ? "Samsung Internet" : /Edg\//.test(ua) ? "Edge"
    : /Firefox\/|FxiOS/.test(ua) ? "Firefox" : /Chrome\/|CriOS/.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : "Browser";
  const system = /Android/.test(ua) ? "Android" : /iPhone/.test(ua) ? "iPhone" : /iPad/.test(ua) ? "iPad"
    : /CrOS/.test(ua) ? "ChromeOS" : /Windows/.test(ua) ? "Windows" : /Mac OS X/.test(ua) ? "Mac" : /Linux/.test(ua) ? "Linux" : "";
  return system ? `${browser} on ${system}` : browser;
}

async function newKeyPair() {
  try {
    return { alg: "ed25519", pair: await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]) };
  } catch {
    return { alg: "p256", pair: await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]) };
  }
}

export async function activate(code, name) {
  const { alg, pair } = await newKeyPair();
  const publicKey = await crypto.subtle.exportKey("raw", pair.publicKey);
  const res = await fetch(new URL("activate", API), {
    method: "POST", cache: "no-store", headers: { "content-type": "application/json" },
    body: JSON.stringify({ code, public_key: b64u(publicKey), key_algorithm: alg, device_name: name, app_version: VERSION }),
  });
  const answer = await res.json().catch(() => ({ message: `the server answered ${res.status}` }));
  if (!res.ok) throw new ApiError(res.status, answer.error, answer.message);
  const uri = new URL(answer.totp_uri);
  const seed = base32(uri.searchParams.get("secret") ?? "");
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: enc.encode(answer.device_id) }, await sealingKey(), seed);
  seed.fill(0);
  const account = {
    id: answer.device_id, issuer: answer.account.issuer, organisation: answer.account.organisation,
    username: answer.account.username, deviceName: name, alg, privateKey: pair.privateKey,
    seed: { iv, sealed },
    totp: {
      hash: { SHA1: "SHA-1", SHA256: "SHA-256", SHA512: "SHA-512" }[uri.searchParams.get("algorithm") ?? "SHA1"] ?? "SHA-1",
      digits: Number(uri.searchParams.get("digits") ?? 6), period: Number(uri.searchParams.get("period") ?? 30),
    },
    offsetMs: answer.server_time_ms - Date.now(), added: Date.now(),
  };
  await saveAccount(account);
  return account;
}

// ---------- codes ----------
async function hmacKey(a) {
  if (hmacKeys.has(a.id)) return hmacKeys.get(a.id);
  const seed = new Uint8Array(await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: a.seed.iv, additionalData: enc.encode(a.id) }, await sealingKey(), a.seed.sealed));
  const key = await crypto.subtle.importKey("raw", seed, { name: "HMAC", hash: a.totp.hash }, false, ["sign"]);
  seed.fill(0);
  hmacKeys.set(a.id, key);
  return key;
}

export async function code(a, atMs = serverNow(a)) {
  const counter = Math.floor(atMs / 1000 / a.totp.period);
  const msg = new DataView(new ArrayBuffer(8));
  msg.setUint32(0, Math.floor(counter / 2 ** 32));
  msg.setUint32(4, counter >>> 0);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(a), msg.buffer));
  const o = mac[mac.length - 1] & 15;
  const bin = ((mac[o] & 127) << 24) | (mac[o + 1] << 16) | (mac[o + 2] << 8) | mac[o + 3];
  return String(bin % 10 ** a.totp.digits).padStart(a.totp.digits, "0");
}

// ---------- requests ----------
const keyOf = (a, c) => `${a.id}/${c.id}`;

function upsert(a, c) {
  const key = keyOf(a, c);
  if (requests.has(key)) return;
  requests.set(key, { account: a, c });
  renderRequests();
}

function resolved(a, id) {
  const r = requests.get(`${a.id}/${id}`);
  // Our own answer's result stays on screen (the server says "resolved" before we hear back).
  if (!r || r.over || r.answering) return;
  r.el?.remove();
  requests.delete(`${a.id}/${id}`);
  renderRequests();
}

/** What is pending for every account (the pull-to-refresh). */
export async function refresh() {
  $("status").textContent = "Checking for sign-in requests…";
  await Promise.all(accounts.filter((a) => !a.removed).map(async (a) => {
    try {
      const list = await expect(a, await call(a, "GET", "pending", undefined, { signal: AbortSignal.timeout(15000) }));
      heard(a, list.server_time_ms);
      const ids = new Set(list.challenges.map((c) => c.id));
      for (const [key, r] of requests) if (r.account.id === a.id && !r.over && !r.answering && !ids.has(r.c.id)) { r.el?.remove(); requests.delete(key); }
      for (const c of list.challenges) upsert(a, c);
    } catch (e) {
      if (!(e instanceof ApiError)) liveOf(a).failed = true;
    }
  }));
  lastCheck = Date.now();
  follow();
  renderAll();
}

async function markShown(r) {
  if (r.shown || document.visibilityState !== "visible") return;
  r.shown = true;
  try { await expect(r.account, await call(r.account, "POST", `challenges/${encodeURIComponent(r.c.id)}/shown`)); } catch { r.shown = false; }
}

const outcomes = {
  approved: ["ok", "Approved. Go back to the sign-in page: it continues by itself."],
  denied: ["ok", "Denied. Nobody was signed in."],
  reported: ["bad", "Reported. Push requests are now off for your account: change your password on Security info and tell your IT team."],
  wrong_number: ["bad", "That number did not match, so the request is over. Sign in again to get a new number."],
  expired: ["bad", "This request expired before the answer. Sign in again, or use a code."],
  already_answered: ["bad", "This request was already answered."],
};

async function answer(r, decision, report = false) {
  const card = r.el;
  const result = card.querySelector(".result");
  const field = card.querySelector("input");
  const body = { decision, report };
  if (decision === "approve") {
    const typed = field.value.trim();
    if (!/^\d{2}$/.test(typed)) {
      result.className = "result bad";
      result.textContent = "Type the two-digit number shown on the sign-in page.";
      field.focus();
      return;
    }
    body.number = Number(typed);
  }
  card.querySelectorAll("button, input").forEach((el) => { el.disabled = true; });
  r.answering = true;
  try {
    const { outcome } = await expect(r.account, await call(r.account, "POST", `challenges/${encodeURIComponent(r.c.id)}/answer`, body));
    const [tone, words] = outcomes[outcome === "denied" && report ? "reported" : outcome] ?? ["bad", outcome];
    r.over = true;
    result.className = `result ${tone}`;
    result.textContent = words;
    card.querySelector("form")?.remove();
    card.querySelector(".actions")?.remove();
    setTimeout(() => { card.remove(); requests.delete(keyOf(r.account, r.c)); renderRequests(); }, 20000);
  } catch (e) {
    r.answering = false;
    card.querySelectorAll("button, input").forEach((el) => { el.disabled = false; });
    result.className = "result bad";
    result.textContent = e instanceof ApiError ? e.message : "No answer from the server: check the network and try again.";
  }
}

function ago(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s} second${s === 1 ? "" : "s"}` : `${Math.round(s / 60)} minute${s < 90 ? "" : "s"}`;
}

function requestCard(r) {
  const { account: a, c } = r;
  const id = `number-${c.id}`;
  const form = h("form", { onsubmit: (e) => { e.preventDefault(); answer(r, "approve"); } },
    h("label", { for: id }, "Number shown on the sign-in page"),
    h("input", { id, class: "number", inputmode: "numeric", pattern: "[0-9]*", maxlength: "2", autocomplete: "off", enterkeyhint: "done", "aria-describedby": `age-${c.id}` }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Approve")));
  return h("li", { class: "card request", "data-challenge": c.id },
    h("h3", {}, "Sign-in request for ", h("strong", {}, c.app)),
    h("dl", {},
      h("dt", {}, "Account"), h("dd", {}, `${c.username} · ${a.organisation}`),
      h("dt", {}, "From"), h("dd", {}, c.ip),
      h("dt", {}, "Time"), h("dd", {}, new Date(c.created).toLocaleTimeString())),
    h("p", { class: "age", id: `age-${c.id}` }),
    form,
    h("div", { class: "actions two" },
      h("button", { type: "button", onclick: () => answer(r, "deny") }, "Deny"),
      h("button", { type: "button", class: "danger", onclick: () => answer(r, "deny", true) }, "I didn't try to sign in")),
    h("p", { class: "result", role: "alert" }));
}

function renderRequests() {
  const list = $("request-list");
  for (const r of requests.values()) {
    if (!r.el) { r.el = requestCard(r); list.append(r.el); }
    if (view === "requests") markShown(r);
  }
  $("no-requests").hidden = requests.size > 0;
  tick();
}

// ---------- the event stream (fetch, so that it can be signed) ----------
function follow() {
  const open = accounts.filter((a) => !a.removed).slice(0, MAX_STREAMS);
  for (const a of open) if (!liveOf(a).following) stream(a);
}

async function stream(a) {
  const l = liveOf(a);
  l.following = true;
  let delay = 1000;
  while (!a.removed) {
    const abort = new AbortController();
    l.abort = abort;
    try {
      const res = await call(a, "GET", "events", undefined, { signal: abort.signal });
      if (!res.ok) await expect(a, res);
      l.connected = true; l.failed = false; delay = 1000;
      heard(a); renderStatus();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done: end } = await reader.read();
        if (end) break;
        heard(a);
        buffer += value;
        for (let i; (i = buffer.indexOf("\n\n")) >= 0;) { onEvent(a, buffer.slice(0, i)); buffer = buffer.slice(i + 2); }
      }
    } catch (e) {
      if (e.name === "AbortError" || a.removed) break;
      l.failed = true;
    }
    l.connected = false;
    renderStatus();
    await sleep(delay);
    delay = Math.min(delay * 2, 30000);
  }
  l.following = false;
  l.connected = false;
}

function onEvent(a, block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  try {
    if (event === "challenge") upsert(a, JSON.parse(data.join("\n")));
    else if (event === "resolved") resolved(a, JSON.parse(data.join("\n")).id);
  } catch { /* a malformed event changes nothing; the next refresh sets things right */ }
}

// ---------- accounts ----------
async function remove(a, card, localOnly = false) {
  const result = card.querySelector(".result");
  if (!localOnly && !a.removed) {
    try {
      await expect(a, await call(a, "DELETE", "device"));
    } catch (e) {
      if (e.error === "last_method") {
        result.className = "result bad";
        result.textContent = `${e.message} If you remove it from this phone anyway, this phone can no longer sign you in.`;
        card.querySelector(".confirm")?.replaceChildren(
          h("button", { type: "button", class: "danger", onclick: () => remove(a, card, true) }, "Remove from this phone only"),
          h("button", { type: "button", onclick: renderAll }, "Keep it"));
        return;
      }
      if (e.error !== "unknown_device") {
        result.className = "result bad";
        result.textContent = e.message || "No answer from the server: check the network and try again.";
        return;
      }
    }
  }
  // Kept on the server (the last way in), forgotten here: no more notifications for it.
  if (localOnly && !a.removed) await call(a, "DELETE", "web-push/subscription").catch(() => {});
  liveOf(a).abort?.abort();
  hmacKeys.delete(a.id);
  await forgetAccount(a.id);
  accounts = accounts.filter((x) => x.id !== a.id);
  renderAll();
}

function accountCard(a) {
  const card = h("li", { class: "card" },
    h("h3", {}, `${a.username} · ${a.organisation}`),
    h("dl", {}, h("dt", {}, "This device"), h("dd", {}, a.deviceName),
      h("dt", {}, "Added"), h("dd", {}, new Date(a.added).toLocaleDateString()),
      h("dt", {}, "Key"), h("dd", {}, a.alg === "p256" ? "P-256 (kept in this browser)" : "Ed25519 (kept in this browser)")),
    a.removed ? h("p", { class: "notice" }, `${a.removed} Add it again from Security info if you still want to use this phone.`) : null,
    h("p", { class: "result", role: "alert" }));
  const confirm = h("div", { class: "actions confirm" });
  const ask = () => confirm.replaceChildren(
    h("p", {}, a.removed ? "Forget this account on this phone?" : `Remove ${a.username} from this phone? This phone also leaves the account, and stops approving sign-ins for it.`),
    h("button", { type: "button", class: "danger", onclick: () => remove(a, card) }, a.removed ? "Forget it" : "Remove"),
    h("button", { type: "button", onclick: renderAll }, "Keep it"));
  confirm.append(h("button", { type: "button", class: "danger", onclick: ask }, a.removed ? "Forget this account" : "Remove from this phone"));
  card.append(confirm);
  return card;
}

// ---------- notifications (Web Push) ----------
async function pushRegistration() {
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) return null;
  return navigator.serviceWorker.ready;
}

/** Sends a browser push subscription (PushSubscription.toJSON()) for every account here. */
export async function saveSubscription(subscription) {
  for (const a of accounts.filter((x) => !x.removed)) {
    await expect(a, await call(a, "PUT", "web-push/subscription", subscription));
  }
}

async function turnOnNotifications() {
  const text = $("notify-text");
  try {
    if ((await Notification.requestPermission()) !== "granted") {
      text.textContent = "Notifications are blocked for this site. Allow them in the browser's site settings, then try again.";
      return;
    }
    const info = await (await fetch(new URL("web-push", API), { cache: "no-store" })).json();
    const reg = await pushRegistration();
    const sub = (await reg.pushManager.getSubscription())
      ?? await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: unb64u(info.application_server_key) });
    await saveSubscription(sub.toJSON());
    text.textContent = "Notifications are on: this phone is woken when a sign-in request arrives.";
  } catch (e) {
    text.textContent = `Notifications could not be turned on (${e.message}). Sign-in requests still arrive whenever the app is open, or when you refresh.`;
  }
  renderNotifications();
}

async function turnOffNotifications() {
  const reg = await pushRegistration();
  await (await reg?.pushManager.getSubscription())?.unsubscribe();
  for (const a of accounts.filter((x) => !x.removed)) {
    try { await expect(a, await call(a, "DELETE", "web-push/subscription")); } catch { /* the next send finds it gone */ }
  }
  $("notify-text").textContent = "Notifications are off. Requests still arrive whenever the app is open.";
  renderNotifications();
}

async function renderNotifications() {
  const ios = /iPhone|iPad/.test(navigator.userAgent) && !matchMedia("(display-mode: standalone)").matches;
  $("ios-hint").hidden = !ios;
  const reg = await pushRegistration().catch(() => null);
  const on = Boolean(await reg?.pushManager.getSubscription().catch(() => null)) && Notification.permission === "granted";
  $("notify-on").hidden = !reg || on || accounts.length === 0;
  $("notify-off").hidden = !on;
  if (!reg && !ios) $("notify-text").textContent = "This browser cannot wake web apps with notifications. Requests still arrive whenever the app is open.";
}

// ---------- rendering ----------
function show(next) {
  view = next;
  for (const b of document.querySelectorAll("#tabs button")) {
    if (b.dataset.view === view) b.setAttribute("aria-current", "page"); else b.removeAttribute("aria-current");
  }
  for (const id of ["requests", "codes", "accounts"]) $(id).hidden = id !== view;
  if (view === "requests") renderRequests();
  tick();
}

function renderStatus() {
  const status = $("status");
  const open = accounts.filter((a) => !a.removed);
  if (open.length === 0) { status.textContent = accounts.length ? "This phone is no longer registered for any account." : "No account on this phone yet."; return; }
  const connected = open.some((a) => liveOf(a).connected);
  const heardAt = Math.max(0, ...open.map((a) => liveOf(a).lastHeard ?? 0));
  const last = heardAt ? `last heard from the server ${ago(Date.now() - heardAt)} ago` : "not heard from the server yet";
  status.classList.toggle("offline", !connected && !navigator.onLine);
  status.textContent = connected ? `Connected · ${last}`
    : navigator.onLine ? `Connecting… · ${last}` : `Offline · ${last}. Requests wait on the server; they appear when you're back online.`;
}

function renderAll() {
  $("tabs").hidden = false;
  $("account-list").replaceChildren(...accounts.map(accountCard));
  $("no-accounts").hidden = accounts.length > 0;
  $("code-list").replaceChildren(...accounts.filter((a) => !a.removed).map((a) =>
    h("li", { class: "card", "data-account": a.id },
      h("h3", {}, `${a.username} · ${a.organisation}`),
      h("p", { class: "code", "aria-live": "off", "aria-label": "Current code" }, "······"),
      h("div", { class: "countdown", "aria-hidden": "true" }, h("span")),
      h("p", { class: "hint seconds" }))));
  if (!accounts.some((a) => !a.removed)) $("code-list").append(h("li", { class: "empty" }, "No codes: no account on this phone."));
  renderRequests();
  renderNotifications();
  renderStatus();
}

async function tick() {
  for (const r of requests.values()) {
    const age = r.el?.querySelector(".age");
    if (age && !r.over) {
      const left = Date.parse(r.c.expires) - serverNow(r.account);
      age.textContent = left > 0 ? `requested ${ago(serverNow(r.account) - Date.parse(r.c.created))} ago · open for ${ago(left)} more` : "expired";
    }
  }
  if (view === "codes") {
    for (const card of document.querySelectorAll("#code-list [data-account]")) {
      const a = accounts.find((x) => x.id === card.dataset.account);
      if (!a) continue;
      const now = serverNow(a);
      const left = a.totp.period - Math.floor(now / 1000) % a.totp.period;
      try { card.querySelector(".code").textContent = await code(a, now); } catch { card.querySelector(".code").textContent = "unavailable"; }
      card.querySelector(".countdown span").style.transform = `scaleX(${left / a.totp.period})`;
      card.querySelector(".seconds").textContent = `New code in ${left} s`;
    }
  }
  renderStatus();
}

// ---------- pull to refresh ----------
function pullToRefresh() {
  const pull = $("pull");
  let startY = null, dy = 0;
  addEventListener("touchstart", (e) => { startY = scrollY === 0 && e.touches.length === 1 ? e.touches[0].clientY : null; dy = 0; }, { passive: true });
  addEventListener("touchmove", (e) => {
    if (startY === null) return;
    dy = Math.max(0, e.touches[0].clientY - startY);
    pull.classList.add("pulling");
    pull.style.height = `${Math.min(dy, 90) * 0.6}px`;
    pull.textContent = dy > 70 ? "Release to refresh" : "Pull to refresh";
  }, { passive: true });
  addEventListener("touchend", () => {
    pull.classList.remove("pulling");
    pull.style.height = "0";
    if (startY !== null && dy > 70) refresh();
    startY = null;
  });
}

// ---------- start ----------
async function start() {
  if (!window.isSecureContext || !crypto.subtle) {
    $("status").textContent = "This page is not in a secure context (https with a certificate the phone trusts, or http://localhost), so the browser cannot keep the authenticator's key. Ask your IT team to serve Postern over https.";
    return;
  }
  navigator.serviceWorker?.register(new URL("sw.js", import.meta.url)).catch(() => {});
  navigator.serviceWorker?.addEventListener("message", (e) => { if (e.data?.type === "refresh") refresh(); });
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => show(b.dataset.view));
  $("refresh").addEventListener("click", refresh);
  $("notify-on").addEventListener("click", turnOnNotifications);
  $("notify-off").addEventListener("click", turnOffNotifications);
  addEventListener("online", refresh);
  addEventListener("offline", renderStatus);
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") refresh(); });
  pullToRefresh();
  setInterval(tick, 1000);
  accounts = await loadAccounts();
  const activation = new URLSearchParams(location.search).get("code");
  if (activation) {
    // The link works once: keep the code out of the address bar and the history.
    history.replaceState(null, "", "./");
    return startActivation(activation);
  }
  renderAll();
  show(location.hash === "#codes" ? "codes" : location.hash === "#accounts" ? "accounts" : "requests");
  if (accounts.length === 0) show("accounts");
  refresh();
}

function startActivation(activationCode) {
  $("activate").hidden = false;
  $("status").textContent = "Adding an account.";
  const name = $("device-name");
  name.value = deviceName();
  $("activate-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = e.target.querySelector("button");
    const result = $("activate-result");
    button.disabled = true;
    result.className = "result";
    result.textContent = "Adding…";
    try {
      const a = await activate(activationCode, name.value.trim() || deviceName());
      accounts.push(a);
      result.className = "result ok";
      result.textContent = `Added ${a.username} at ${a.organisation}. This phone now approves your sign-ins.`;
      $("activate").replaceChildren(result);
      setTimeout(() => { $("activate").hidden = true; }, 30000);
      const reg = await pushRegistration().catch(() => null);
      const sub = Notification.permission === "granted" ? await reg?.pushManager.getSubscription() : null;
      if (sub) await saveSubscription(sub.toJSON()).catch(() => {});
      renderAll();
      show("requests");
      refresh();
    } catch (err) {
      button.disabled = false;
      result.className = "result bad";
      result.textContent = err instanceof ApiError ? err.message : `The account could not be added (${err.message}). Check the network and try again.`;
    }
  });
}

start();
