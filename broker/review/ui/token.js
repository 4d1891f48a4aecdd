// @ts-check
// The reviewer's token: kept in this tab's session storage only, sent only as an Authorization header.

import { byId, setStatus } from "./dom.js";

const TOKEN_KEY = "xbus-review-token";
/** What the API accepts (named, not written after `!`: see signature.js). */
const TOKEN_SHAPE = /^[A-Za-z0-9._~+/=-]{16,256}$/;

/** Thrown after a 401: the token form is already showing its message. */
export class Unauthorized extends Error {}

/** @returns {string | null} */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Brings the token form back (and hides the views), with `message` saying why. @param {string} message */
export function askForToken(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  byId("nav").hidden = true;
  byId("view").replaceChildren();
  byId("token-message").textContent = message;
  byId("token-view").hidden = false;
  setStatus("");
  byId("token-input").focus();
}

/**
 * Takes the token typed in the form, if it is of the shape the API accepts; `then` shows the views.
 * @param {SubmitEvent} event @param {() => void} then
 */
export function onTokenSubmit(event, then) {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ (byId("token-input"));
  const value = input.value.trim();
  input.value = "";
  if (!TOKEN_SHAPE.test(value)) {
    askForToken("A token is 16 to 256 characters: letters, digits and . _ ~ + / = -");
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, value);
  byId("token-message").textContent = "";
  byId("token-view").hidden = true;
  byId("nav").hidden = false;
  then();
}
