// @ts-check
// Alerts over a window of the log: the rules the server runs, and what they found. A link may carry the
// window (the charts' drill-down: `#/alerts/` and from, to as a query string, encoded as one path segment).

/** @import { AlertsJson } from "./api-types.js" */
import { api, loadOnSubmit } from "./api.js";
import {
  definitionList,
  el,
  exchangeLink,
  fillForm,
  formValues,
  input,
  linkFilters,
  localToIso,
  select,
  setStatus,
  show,
  table,
  timeText,
  valueText,
  zoneNote,
} from "./dom.js";

const ALERT_RULES = ["bulk_lookup", "denials", "off_hours"];

/** The last window asked for, kept while the tab moves between views. @type {Record<string, string>} */
let alertFilters = {};

/** @param {string} [link] a window from the location, which replaces the last one when given */
export async function alertsView(link = "") {
  if (link) alertFilters = linkFilters(link, ["from", "to", "rule"]);
  const form = el(
    "form",
    { class: "filters", "aria-label": "Alert window" },
    input("From (inclusive; default 24 h before 'to')", "from", { type: "datetime-local", step: "1" }),
    input("To (exclusive; default now)", "to", { type: "datetime-local", step: "1" }),
    select("Rule", "rule", [
      ["", "all rules"],
      ...ALERT_RULES.map((r) => /** @type {[string, string]} */ ([r, r])),
    ]),
    el("div", { class: "actions" }, el("button", { type: "submit" }, "Show alerts")),
  );
  const results = el("div", { id: "alerts-results" });
  show("Alerts", zoneNote(), form, results);
  fillForm(form, alertFilters);
  await loadOnSubmit(form, results, async () => {
    alertFilters = formValues(form);
    setStatus("Loading…");
    const a = /** @type {AlertsJson} */ (
      await api("/v1/alerts", {
        from: localToIso(alertFilters.from ?? ""),
        to: localToIso(alertFilters.to ?? ""),
        rule: alertFilters.rule,
      })
    );
    results.replaceChildren(
      el(
        "p",
        {},
        `Window ${timeText(a.from)} to ${timeText(a.to)}; ` +
          (a.complete
            ? "every exchange in it was read."
            : `only read up to ${timeText(a.scanned_to)}: ask again from there.`),
      ),
      table(
        `Alerts (${a.alerts.length})`,
        ["Rule", "Consumer", "First", "Last", "Count", "Summary", "Exchanges (first ones)"],
        a.alerts.map((x) => [
          valueText(x.rule),
          valueText(x.consumer),
          timeText(x.first_at),
          timeText(x.last_at),
          `${x.count}${x.truncated ? " (list truncated)" : ""}`,
          valueText(x.summary),
          el(
            "ul",
            {},
            ...(x.exchanges ?? []).slice(0, 5).map((e) => el("li", {}, exchangeLink(e.exchange_id))),
          ),
        ]),
      ),
      el("h3", {}, "Rules that ran"),
      definitionList(Object.entries(a.rules ?? {}).map(([k, v]) => [k, valueText(v)])),
    );
    setStatus("Alerts loaded.");
  });
}
