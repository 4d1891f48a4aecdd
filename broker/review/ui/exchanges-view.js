// @ts-check
// The exchanges view: the log searched by consumer, agency, service, subject, purpose, decision and time,
// newest first. A link may carry the filters (the charts' drill-down: `#/exchanges/` and the filters as a
// query string, encoded as one path segment).

/** @import { ExchangesJson } from "./api-types.js" */
import { api } from "./api.js";
import {
  el,
  exchangeLink,
  fillForm,
  formValues,
  input,
  linkFilters,
  localToIso,
  select,
  show,
  table,
  timeText,
  valueText,
  zoneNote,
} from "./dom.js";
import { pager } from "./pager.js";

const DECISIONS = ["allow", "deny", "invalid", "error"];
const EXCHANGE_FILTERS = ["consumer", "agency", "service", "subject", "purpose", "decision"];

/** The last search, kept while the tab moves between views. @type {Record<string, string>} */
let exchangeFilters = {};

/** @param {string} [link] filters from the location, which replace the last search when given */
export function exchangesView(link = "") {
  if (link) exchangeFilters = linkFilters(link, [...EXCHANGE_FILTERS, "from", "to"]);
  const form = el(
    "form",
    { class: "filters", "aria-label": "Exchange filters" },
    input("Consumer (SPIFFE ID)", "consumer", { type: "text", spellcheck: "false" }),
    input("Agency", "agency", { type: "text", spellcheck: "false" }),
    input("Service", "service", { type: "text", spellcheck: "false" }),
    input("Subject (citizen ID)", "subject", { type: "text", inputmode: "numeric", spellcheck: "false" }),
    input("Purpose", "purpose", { type: "text", spellcheck: "false" }),
    select("Decision", "decision", [
      ["", "any"],
      ...DECISIONS.map((d) => /** @type {[string, string]} */ ([d, d])),
    ]),
    input("From (inclusive)", "from", { type: "datetime-local", step: "1" }),
    input("To (exclusive)", "to", { type: "datetime-local", step: "1" }),
    el("div", { class: "actions" }, el("button", { type: "submit" }, "Search")),
  );
  const results = el("div", { id: "exchanges-results" });
  show("Exchanges", zoneNote(), form, results);
  fillForm(form, exchangeFilters);
  const search = () => {
    exchangeFilters = formValues(form);
    /** @type {Record<string, string | undefined>} */
    const params = {};
    for (const k of EXCHANGE_FILTERS) params[k] = exchangeFilters[k];
    params.from = localToIso(exchangeFilters.from ?? "");
    params.to = localToIso(exchangeFilters.to ?? "");
    return pager(
      results,
      async (cursor) => /** @type {ExchangesJson} */ (await api("/v1/exchanges", { ...params, cursor })),
      (page, n) =>
        table(
          `Exchanges, newest first (page ${n}, ${page.exchanges.length} rows)`,
          ["Index", "Time", "Exchange", "Consumer", "Service", "Purpose", "Decision", "Status"],
          page.exchanges.map((e) => {
            const r = e.record ?? {};
            return [
              String(e.index),
              timeText(r.time),
              exchangeLink(r.exchange_id),
              valueText(r.consumer),
              valueText(r.service),
              valueText(r.purpose),
              valueText(r.decision),
              valueText(r.status),
            ];
          }),
        ),
    );
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void search();
  });
  return search();
}
