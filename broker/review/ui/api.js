// @ts-check
// Calls to the review API, with the reviewer's token, and what the page shows when one fails.

import { el, setStatus } from "./dom.js";
import { askForToken, token, Unauthorized } from "./token.js";

/**
 * GET a JSON endpoint of this server with the reviewer's token. `params` with an empty value are left
 * out (the API refuses empty parameters). The answer is the server's word: `unknown` here, and each
 * caller that relies on a part of it for a check tests that part's shape first.
 * @param {string} path already encoded
 * @param {Record<string, string | undefined>} [params]
 * @returns {Promise<unknown>}
 */
export async function api(path, params = {}) {
  return (await call(path, params, "application/json")).body;
}

/**
 * GET a text endpoint (a C2SP tlog-proof, a tlog-policy) with the reviewer's token: the text as served,
 * which the caller parses and checks itself. A failure is thrown as `api` throws it.
 * @param {string} path already encoded
 * @param {Record<string, string | undefined>} [params]
 * @returns {Promise<string>}
 */
export async function apiText(path, params = {}) {
  const { text } = await call(path, params, "text/plain");
  return text;
}

/**
 * @param {string} path @param {Record<string, string | undefined>} params @param {string} accept
 * @returns {Promise<{body: unknown, text: string}>}
 */
async function call(path, params, accept) {
  const t = token();
  if (!t) {
    askForToken("Enter a reviewer token to read the log.");
    throw new Unauthorized();
  }
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") query.set(k, v);
  const qs = query.toString();
  const res = await fetch(qs ? `${path}?${qs}` : path, {
    headers: { authorization: `Bearer ${t}`, accept },
    credentials: "omit",
    cache: "no-store",
  });
  const text = await res.text();
  /** @type {unknown} */
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (res.status === 401) {
    const message = errorMessage(body);
    const why = message === undefined ? "" : `: ${message}`;
    askForToken(`The server refused this token (401${why}). Enter a valid reviewer token.`);
    throw new Unauthorized();
  }
  if (!res.ok) throw new Error(`${res.status}: ${errorMessage(body) ?? res.statusText}`);
  return { body, text };
}

/** The message of an answer `{"error": {"message": "…"}}`, when it is one. @param {unknown} body */
function errorMessage(body) {
  const error = body && typeof body === "object" && "error" in body ? body.error : undefined;
  const message = error && typeof error === "object" && "message" in error ? error.message : undefined;
  return typeof message === "string" ? message : undefined;
}

/** A failure's words. @param {unknown} err */
export function errorText(err) {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Shows a failed call's message as text; a 401 has already brought back the token form.
 * @param {unknown} err @param {Element} where
 */
export function failed(err, where) {
  if (err instanceof Unauthorized) return;
  where.replaceChildren(el("p", { class: "error", role: "alert" }, errorText(err)));
  setStatus("");
}

/**
 * A view's form and what it shows: `load` runs now and again on each submit; a failure shows in `where`.
 * @param {HTMLFormElement} form @param {Element} where @param {() => Promise<void>} load
 */
export function loadOnSubmit(form, where, load) {
  const run = async () => {
    try {
      await load();
    } catch (err) {
      failed(err, where);
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void run();
  });
  return run();
}
