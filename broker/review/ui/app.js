// @ts-check
// The review UI (README, "Review UI"): plain browser modules, no build step. This one, the
// page's entry, shows the view the location names; the others are one concern each: dom.js (every piece
// of data reaches the page as text, never as parsed HTML), token.js, api.js and pager.js; the checks of the
// log, each run here on WebCrypto independently of the server's code: merkle.js (hashes and proofs),
// inclusion.js, signature.js (tree heads) and consistency.js (successive heads); and one file per view. The
// charts view draws with uPlot, the page's one third-party module (vendor/uplot.js, served from its package).

import { accessesView } from "./accesses-view.js";
import { alertsView } from "./alerts-view.js";
import { chartsView } from "./charts-view.js";
import { byId } from "./dom.js";
import { exchangeView } from "./exchange-view.js";
import { exchangesView } from "./exchanges-view.js";
import { askForToken, onTokenSubmit, token } from "./token.js";
import { treeHeadView } from "./tree-head-view.js";

/** Shows the view the location's hash names (`#/exchanges`, `#/exchange/ID`, …). */
function route() {
  if (!token()) {
    askForToken("Enter a reviewer token to read the log.");
    return;
  }
  byId("token-view").hidden = true;
  byId("nav").hidden = false;
  const hash = location.hash.replace(/^#\/?/, "");
  const [name = "", arg = ""] = hash.split("/");
  let id = "";
  try {
    id = decodeURIComponent(arg);
  } catch {
    id = "";
  }
  if (name === "exchanges") void exchangesView(id);
  else if (name === "exchange" && id) void exchangeView(id);
  else if (name === "accesses") void accessesView();
  else if (name === "alerts") void alertsView(id);
  else if (name === "charts") void chartsView();
  else void treeHeadView();
}

function start() {
  byId("token-form").addEventListener("submit", (event) => onTokenSubmit(event, route));
  byId("forget-token").addEventListener("click", () => askForToken("Token forgotten."));
  window.addEventListener("hashchange", route);
  route();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
