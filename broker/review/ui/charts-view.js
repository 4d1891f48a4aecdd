// @ts-check
// Charts of the log over time (README, "Review UI"): exchanges by agency and by decision, and denials and
// alerts, from GET /v1/stats/exchanges, drawn on canvas by the vendored uPlot. A click on a chart opens the
// exchanges of that time bucket (and of the series nearest the click: its agency or decision); the alerts
// series opens the alerts of the window. Under each chart a summary and a table give the same numbers as
// text, each count a link to the same rows, for keyboards and screen readers.

/** @import { ExchangeStatsJson } from "./api-types.js" */
import { api, loadOnSubmit } from "./api.js";
import { pickLine } from "./chart-pick.js";
import {
  el,
  fillForm,
  formValues,
  input,
  localToIso,
  msToLocal,
  select,
  setStatus,
  show,
  table,
  timeText,
  zoneNote,
} from "./dom.js";
import uPlot from "./vendor/uplot.js";

const MIN = 60_000;
const HOUR = 60 * MIN;
/**
 * Each window the form offers, and what its end is rounded up to, so buckets start on round times.
 * @type {Record<string, { label: string, ms: number, step: number }>}
 */
const RANGES = {
  hour: { label: "last hour", ms: HOUR, step: MIN },
  day: { label: "last day", ms: 24 * HOUR, step: 5 * MIN },
  week: { label: "last week", ms: 7 * 24 * HOUR, step: HOUR },
};
/** Okabe–Ito colours, told apart with the common colour-vision deficiencies; after them, grey. */
const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#999999"];
/** @type {Record<string, string>} */
const DECISION_COLOURS = { allow: "#009E73", deny: "#D55E00", invalid: "#E69F00", error: "#CC79A7" };
/** The steps between ticks on a count axis. */
const COUNT_STEPS = [1, 2, 5]
  .flatMap((m) => [1, 10, 100, 1000, 10_000, 100_000, 1_000_000].map((p) => m * p))
  .sort((a, b) => a - b);
/** How near (CSS pixels) a click must be to a series' point to drill down to that series. */
const NEAR_PX = 16;

/**
 * One line of a chart, and where its counts lead: exchanges with these filters, or the alerts view.
 * `dash` draws it dashed, so a line on top of another still shows.
 * @typedef {{ label: string, counts: number[], colour: string, filters: Record<string, string> | "alerts", dash?: number[] }} Line
 */

/** The last window asked for, kept while the tab moves between views. @type {Record<string, string>} */
let chartFilters = { range: "hour" };

export async function chartsView() {
  const form = el(
    "form",
    { class: "filters", "aria-label": "Chart window" },
    select(
      "Window",
      "range",
      Object.entries(RANGES).map(([k, r]) => /** @type {[string, string]} */ ([k, r.label])),
    ),
    input("Ending (default now)", "to", { type: "datetime-local", step: "1" }),
    el("div", { class: "actions" }, el("button", { type: "submit" }, "Show charts")),
  );
  const results = el("div", { id: "charts-results" });
  show("Charts", zoneNote(), form, results);
  fillForm(form, chartFilters);
  await loadOnSubmit(form, results, async () => {
    chartFilters = formValues(form);
    const range = RANGES[chartFilters.range ?? ""] ?? { label: "last hour", ms: HOUR, step: MIN };
    const given = localToIso(chartFilters.to ?? "");
    const to = given ? Date.parse(given) : Math.ceil(Date.now() / range.step) * range.step;
    setStatus("Loading…");
    const s = /** @type {ExchangeStatsJson} */ (
      await api("/v1/stats/exchanges", { from: String(to - range.ms), to: String(to) })
    );
    const charts = [
      chart("agencies", "Exchanges by consumer agency", s, agencyLines(s)),
      chart("decisions", "Exchanges by decision", s, decisionLines(s)),
      chart("denials", "Denials and alerts", s, [
        {
          label: "denied",
          counts: s.decisions.find((d) => d.decision === "deny")?.counts ?? s.times.map(() => 0),
          colour: DECISION_COLOURS.deny ?? "",
          filters: { decision: "deny" },
        },
        { label: "alerts", counts: s.alerts, colour: PALETTE[0] ?? "", filters: "alerts", dash: [6, 4] },
      ]),
    ];
    results.replaceChildren(
      el(
        "p",
        {},
        `Window ${timeText(s.from)} to ${timeText(s.to)}, in buckets of ${durationText(s.bucket_ms)}. ` +
          "Click a point to see its exchanges; click a name in a legend to hide or show its line.",
      ),
      s.alerts_complete
        ? ""
        : el(
            "p",
            { class: "error" },
            `Alerts are counted only up to ${timeText(s.alerts_scanned_to)}: the scan stopped at its bound.`,
          ),
      ...charts.map((c) => c.node),
    );
    for (const c of charts) c.draw();
    setStatus("Charts loaded.");
  });
}

/** @param {ExchangeStatsJson} s @returns {Line[]} */
function agencyLines(s) {
  return s.agencies.map((a, i) => ({
    label: a.agency || "(unidentified caller)",
    counts: a.counts,
    colour: PALETTE[Math.min(i, PALETTE.length - 1)] ?? "",
    // A caller that could not be identified has no agency to filter by: its rows are found by time.
    filters: a.agency ? { agency: a.agency } : /** @type {Record<string, string>} */ ({}),
  }));
}

/** @param {ExchangeStatsJson} s @returns {Line[]} */
function decisionLines(s) {
  return s.decisions.map((d) => ({
    label: d.decision,
    counts: d.counts,
    colour: DECISION_COLOURS[d.decision] ?? "#999999",
    filters: { decision: d.decision },
  }));
}

/**
 * Where a count leads: the exchanges of bucket `i` with the line's filters, or the alerts of the window.
 * @param {ExchangeStatsJson} s @param {Line | undefined} line @param {number} i
 */
function drillLink(s, line, i) {
  const start = s.times[i] ?? s.from;
  if (line?.filters === "alerts")
    return `#/alerts/${encodeURIComponent(new URLSearchParams({ from: msToLocal(s.from), to: msToLocal(s.to) }).toString())}`;
  const q = new URLSearchParams({
    ...(line?.filters ?? {}),
    from: msToLocal(start),
    to: msToLocal(Math.min(start + s.bucket_ms, s.to)),
  });
  return `#/exchanges/${encodeURIComponent(q.toString())}`;
}

/**
 * A chart of `lines` over the window: a figure with a heading, a summary, the canvas (drawn by `draw`,
 * once the figure is on the page and has a width) and the numbers as a table.
 * @param {string} id @param {string} title @param {ExchangeStatsJson} s @param {Line[]} lines
 */
function chart(id, title, s, lines) {
  const headingId = `chart-${id}-heading`;
  const plot = el("div", { class: "plot", "aria-hidden": "true" });
  const totals = lines.map((l) => `${l.label} ${l.counts.reduce((a, b) => a + b, 0)}`);
  const node = el(
    "figure",
    {
      class: "chart",
      "data-chart": id,
      "data-series": String(lines.length),
      "data-from": String(s.from),
      "data-to": String(s.to),
      "aria-labelledby": headingId,
    },
    el("h3", { id: headingId }, title),
    el("p", { class: "summary" }, lines.length ? `Totals: ${totals.join(", ")}.` : "Nothing in this window."),
    plot,
    numbers(title, s, lines),
  );
  const draw = () => {
    if (lines.length === 0) return;
    const ink = getComputedStyle(document.body).color;
    const grid = { stroke: "rgba(128, 128, 128, 0.3)", width: 1 };
    const last = s.times.length - 1;
    // Each count holds from its bucket's start to the next (a step); one more x at the window's end
    // carries the last bucket's step to there. Points mark only the buckets that hold anything.
    const xs = [...s.times, s.to];
    const u = new uPlot(
      {
        width: Math.max(plot.clientWidth, 320),
        height: 220,
        ms: 1,
        // Ticks fall on round UTC times, as the labels are UTC.
        tzDate: (ms) => uPlot.tzDate(new Date(ms), "Etc/UTC"),
        // A click drills down, so a drag does not zoom (it would end in a click).
        cursor: { drag: { x: false, y: false, setScale: false } },
        scales: {
          x: { time: true, range: [s.from, s.to] },
          y: { range: (_u, _min, max) => [0, Math.max(1, max)] },
        },
        axes: [
          { stroke: ink, grid, ticks: grid, values: (_u, splits) => splits.map((t) => utcText(t, s)) },
          // Counts are whole: ticks 1, 2, 5, 10, 20, 50… apart, never 0.5.
          { stroke: ink, grid, ticks: grid, incrs: COUNT_STEPS },
        ],
        series: [
          { label: "UTC", value: (_u, t) => (t === null ? "--" : utcText(t, s)) },
          ...lines.map((l) => ({
            label: l.label,
            stroke: l.colour,
            width: 2,
            ...(l.dash && { dash: l.dash }),
            paths: uPlot.paths.stepped?.({ align: 1 }),
            points: { filter: () => l.counts.flatMap((n, i) => (n > 0 ? [i] : [])) },
          })),
        ],
      },
      [xs, ...lines.map((l) => [...l.counts, l.counts[last] ?? 0])],
      plot,
    );
    u.over.addEventListener("click", () => {
      const i = u.cursor.idx;
      if (i === null || i === undefined) return;
      const bucket = Math.min(i, last);
      location.hash = drillLink(s, clickedLine(u, lines, bucket), bucket);
    });
    new ResizeObserver(() => {
      if (plot.clientWidth > 0 && plot.clientWidth !== u.width)
        u.setSize({ width: Math.max(plot.clientWidth, 320), height: 220 });
    }).observe(plot);
  };
  return { node, draw };
}

/**
 * The line a click at bucket `i` means (chart-pick.js), or undefined for the bucket alone.
 * @param {uPlot} u @param {Line[]} lines @param {number} i
 */
function clickedLine(u, lines, i) {
  const k = pickLine(
    lines.map((l) => u.valToPos(l.counts[i] ?? 0, "y")),
    lines.map((_, k) => u.series[k + 1]?.show !== false),
    u.cursor.top ?? Number.NaN,
    NEAR_PX,
  );
  return lines[k];
}

/**
 * The chart's numbers as a table, the buckets that hold anything: each count links where a click leads.
 * @param {string} title @param {ExchangeStatsJson} s @param {Line[]} lines
 */
function numbers(title, s, lines) {
  const rows = [];
  for (let i = 0; i < s.times.length; i++) {
    if (!lines.some((l) => (l.counts[i] ?? 0) > 0)) continue;
    rows.push([
      timeText(s.times[i]),
      ...lines.map((l) => {
        const n = l.counts[i] ?? 0;
        return n > 0 ? el("a", { href: drillLink(s, l, i) }, String(n)) : "0";
      }),
    ]);
  }
  return el(
    "details",
    {},
    el("summary", {}, `${title}: the numbers (buckets with any: ${rows.length})`),
    table(
      `${title}, per bucket of ${durationText(s.bucket_ms)} (start, UTC); buckets with none left out`,
      ["Bucket", ...lines.map((l) => l.label)],
      rows,
    ),
  );
}

/**
 * A time on a chart, in UTC like every time on the page: the hour and minute, and the day too when the
 * window is longer than one.
 * @param {number} t @param {ExchangeStatsJson} s
 */
function utcText(t, s) {
  const iso = new Date(t).toISOString();
  return s.to - s.from > 24 * HOUR ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 16);
}

/** @param {number} ms */
function durationText(ms) {
  if (ms % HOUR === 0) return `${ms / HOUR} h`;
  if (ms % MIN === 0) return `${ms / MIN} min`;
  return `${ms / 1000} s`;
}
