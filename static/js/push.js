// Web Push for this browser (the notifications page): register the service worker, ask the
// browser's push service for a subscription with this site's VAPID key, and give it to the
// server; or take it back. A browser subscribes only through its vendor's push service.
import { swapApi } from "./swap-api.js";

const row = document.getElementById("push-row");
const on = document.getElementById("push-on");
const off = document.getElementById("push-off");
const status = document.getElementById("push-status");

function text(key, vars = {}) {
  const node = document.getElementById("push-texts")?.content.querySelector(`[data-key="${key}"]`);
  const template = node ? node.textContent.trim() : key;
  return template.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

function keyBytes(base64url) {
  const raw = atob(base64url.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

async function registration() {
  return navigator.serviceWorker.register("/sw.js", { scope: "/" });
}

async function show() {
  const supported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  if (!supported) {
    status.textContent = text("unsupported");
    return;
  }
  const existing = await (await registration()).pushManager.getSubscription();
  on.hidden = Boolean(existing);
  off.hidden = !existing;
  status.textContent = text(existing ? "on" : "off");
}

on?.addEventListener("click", async () => {
  try {
    if ((await Notification.requestPermission()) !== "granted") {
      status.textContent = text("denied");
      return;
    }
    const reg = await registration();
    const subscription = await reg.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: keyBytes(row.dataset.key),
    });
    await swapApi("/api/v1/push/subscriptions", subscription.toJSON());
  } catch (error) {
    status.textContent = text("failed", { detail: error.message || String(error) });
    return;
  }
  await show();
});

off?.addEventListener("click", async () => {
  const subscription = await (await registration()).pushManager.getSubscription();
  if (subscription) {
    await swapApi("/api/v1/push/subscriptions/delete", { endpoint: subscription.endpoint }).catch(() => {});
    await subscription.unsubscribe();
  }
  await show();
});

if (row?.dataset.enabled === "true") show();
