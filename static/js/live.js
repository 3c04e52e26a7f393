// A WebSocket that comes back after a network drop. Reconnects with exponential backoff
// (`minDelay` doubling up to `maxDelay`, each wait shortened by up to half at random so a
// restarted server is not hit by every browser at once), and at once when the browser comes
// back online or the tab is shown again. Close codes 4400–4499 mean the server refused this
// client (e.g. 4401 not signed in, 4404 not a party to the swap): retrying cannot help.
//
//   const live = connectLive("/ws/prices/", { onMessage, onStatus });
//   onStatus(state, detail): "connecting" | "live" | "reconnecting" {delay} | "offline" |
//                            "refused" {code}
//   live.send(obj); live.close();

const REFUSED = (code) => code >= 4400 && code < 4500;

export function connectLive(path, options = {}) {
  const { onMessage = () => {}, onStatus = () => {}, minDelay = 1000, maxDelay = 30000 } = options;
  let socket = null;
  let timer = null;
  let attempt = 0;
  let stopped = false;
  const scheme = location.protocol === "https:" ? "wss" : "ws";

  function open() {
    clearTimeout(timer);
    timer = null;
    if (stopped || socket) return;
    onStatus("connecting", { attempt });
    const ws = new WebSocket(`${scheme}://${location.host}${path}`);
    socket = ws;
    ws.addEventListener("open", () => onStatus("live", {}));
    ws.addEventListener("message", (event) => {
      // The backoff restarts only once the server has said something: a server that
      // accepts and drops at once is still retried slowly.
      attempt = 0;
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      onMessage(data);
    });
    ws.addEventListener("close", (event) => {
      if (socket === ws) socket = null;
      if (stopped) return;
      if (REFUSED(event.code)) {
        stopped = true;
        onStatus("refused", { code: event.code });
        return;
      }
      schedule();
    });
  }

  function schedule() {
    if (timer) return;
    if (!navigator.onLine) {
      onStatus("offline", {});
      return; // the "online" event reopens
    }
    const delay = Math.round(Math.min(maxDelay, minDelay * 2 ** attempt) * (0.5 + Math.random() / 2));
    attempt += 1;
    onStatus("reconnecting", { delay });
    timer = setTimeout(open, delay);
  }

  const reopenNow = () => {
    if (!stopped && !socket) open();
  };
  const dropNow = () => socket?.close();
  const onVisible = () => {
    if (document.visibilityState === "visible") reopenNow();
  };
  window.addEventListener("online", reopenNow);
  window.addEventListener("offline", dropNow);
  document.addEventListener("visibilitychange", onVisible);
  open();

  return {
    send(data) {
      if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(data));
    },
    close() {
      stopped = true;
      clearTimeout(timer);
      window.removeEventListener("online", reopenNow);
      window.removeEventListener("offline", dropNow);
      document.removeEventListener("visibilitychange", onVisible);
      socket?.close();
    },
  };
}
