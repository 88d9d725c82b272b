// The Postern Authenticator's service worker: keeps the app shell so the app opens offline (never
// an API answer), and turns a Web Push message into a visible notification that opens the app.
// A push is only a wake-up call: it names the application, never the number; the app fetches
// the request itself, signed.
const CACHE = "postern-authenticator-__VERSION__";
const SHELL = ["./", "app.js", "app.css", "manifest.webmanifest", "icon.svg", "icon-192.png", "icon-512.png"];
const scope = new URL("./", self.location).pathname;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith("postern-authenticator-") && k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  // Only the app's own files; API calls and everything else go to the network untouched.
  if (event.request.method !== "GET" || url.origin !== self.location.origin || !url.pathname.startsWith(scope)) return;
  const key = event.request.mode === "navigate" ? "./" : event.request;
  event.respondWith(caches.open(CACHE).then(async (c) => (await c.match(key, { ignoreSearch: true })) ?? fetch(event.request)));
});

self.addEventListener("push", (event) => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch { data = {}; }
  const app = typeof data.app === "string" && data.app ? data.app.slice(0, 80) : "an application";
  event.waitUntil((async () => {
    await self.registration.showNotification(`Sign-in request for ${app}`, {
      body: "Open to approve",
      tag: typeof data.challenge_id === "string" ? data.challenge_id : "postern-request",
      icon: "icon-192.png",
      requireInteraction: true,
      data: { url: "./#requests" },
    });
    for (const client of await self.clients.matchAll({ type: "window" })) client.postMessage({ type: "refresh" });
  })());
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil((async () => {
    const open = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const app = open.find((c) => new URL(c.url).pathname.startsWith(scope));
    if (app) { app.postMessage({ type: "refresh" }); return app.focus(); }
    return self.clients.openWindow(event.notification.data?.url ?? "./");
  })());
});
