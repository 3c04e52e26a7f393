// The swaps API from the swap pages: a refusal's `detail` is already a sentence in the page's
// language that names the numbers and the way out (and says "try again" only where waiting
// can help), so it is shown as it is; only a missing connection gets a text of its own.
import { WalletError } from "./wallet.js";
import { t } from "./messages.js";

function csrfToken() {
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  if (cookie) return decodeURIComponent(cookie.slice("csrftoken=".length));
  return document.querySelector("input[name=csrfmiddlewaretoken]")?.value ?? "";
}

/** GET (no body) or POST JSON; refusals become WalletErrors carrying the API's code and sentence. */
export async function swapApi(path, body) {
  let response;
  try {
    response = await fetch(path, {
      method: body === undefined ? "GET" : "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new WalletError("server_unreachable", t("server_unreachable"), { cause: error });
  }
  let payload = {};
  try {
    payload = await response.json();
  } catch {
    // an empty or non-JSON answer: the status decides
  }
  if (response.ok) return payload;
  if (response.status === 429 && payload.code === "throttled") throw new WalletError("throttled", t("throttled"));
  throw new WalletError(payload.code ?? `http_${response.status}`, payload.detail ?? response.statusText);
}
