// @ts-check
// A citizen's accesses: who read which service about them, when, for what purpose, with what outcome.

/** @import { AccessesJson } from "./api-types.js" */
import { api } from "./api.js";
import {
  el,
  exchangeLink,
  fillForm,
  formValues,
  input,
  localToIso,
  show,
  table,
  timeText,
  valueText,
  zoneNote,
} from "./dom.js";
import { pager } from "./pager.js";

/** The last search, kept while the tab moves between views. @type {Record<string, string>} */
let accessFilters = {};

export function accessesView() {
  const form = el(
    "form",
    { class: "filters", "aria-label": "Citizen" },
    input("Citizen ID", "subject", {
      type: "text",
      inputmode: "numeric",
      required: true,
      spellcheck: "false",
    }),
    input("From (inclusive)", "from", { type: "datetime-local", step: "1" }),
    input("To (exclusive)", "to", { type: "datetime-local", step: "1" }),
    el("div", { class: "actions" }, el("button", { type: "submit" }, "Show accesses")),
  );
  const results = el("div", { id: "accesses-results" });
  show(
    "A citizen's accesses",
    el(
      "p",
      { class: "note" },
      "Who read which service about this citizen, when, for what purpose, with what outcome.",
    ),
    zoneNote(),
    form,
    results,
  );
  fillForm(form, accessFilters);
  const search = () => {
    accessFilters = formValues(form);
    const subject = accessFilters.subject ?? "";
    const params = { from: localToIso(accessFilters.from ?? ""), to: localToIso(accessFilters.to ?? "") };
    return pager(
      results,
      async (cursor) =>
        /** @type {AccessesJson} */ (
          await api(`/v1/subjects/${encodeURIComponent(subject)}/accesses`, { ...params, cursor })
        ),
      (page, n) =>
        table(
          `Accesses, newest first (page ${n}, ${page.accesses.length} rows)`,
          ["Time", "Consumer", "Service", "Purpose", "Decision", "Status", "Fields released", "Exchange"],
          page.accesses.map((a) => [
            timeText(a.time),
            valueText(a.consumer),
            valueText(a.service),
            valueText(a.purpose),
            valueText(a.decision),
            valueText(a.status),
            valueText(a.fields_released),
            exchangeLink(a.exchange_id),
          ]),
        ),
    );
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void search();
  });
  if (accessFilters.subject) return search();
  return undefined;
}
