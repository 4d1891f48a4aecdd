import type { RowResult } from "./measure.js";

const ms = (v: number | null) =>
  v === null ? "—" : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`;

/** The fault table as Markdown: one line per row, the figures README's "Reliability" shows. */
export function formatTable(rows: readonly RowResult[]): string {
  const lines = [
    "| row | result | sent | ok | denied | failed (by reason) | receipts missing | log entries without answer | serves again | p99 baseline → fault | heads not extending |",
    "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- | ---: |",
  ];
  for (const r of rows) {
    const failed =
      Object.entries(r.requests.failed)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v}`)
        .join(", ") || "0";
    lines.push(
      `| ${r.id} | ${r.status} | ${r.requests.sent} | ${r.requests.succeeded} | ${r.requests.denied} | ${failed} | ` +
        `${r.receipts.missing} of ${r.receipts.checked}${r.receipts.late ? ` (${r.receipts.late} late)` : ""} | ${r.log_entries_without_answer.count} | ${ms(r.serves_again_ms)} | ` +
        `${ms(r.p99_ms.baseline)} → ${ms(r.p99_ms.fault)} | ${r.tree_heads.not_extending.length} of ${r.tree_heads.seen} |`,
    );
  }
  const problems = rows.filter((r) => r.problems.length > 0);
  if (problems.length > 0) {
    lines.push("");
    for (const r of problems) lines.push(`- ${r.id} (${r.status}): ${r.problems.join("; ")}`);
  }
  const notes = rows.filter((r) => r.notes.length > 0 || r.log_entries_without_answer.count > 0);
  for (const r of notes) {
    const why =
      r.log_entries_without_answer.count > 0
        ? [`log entries without answer: ${r.log_entries_without_answer.why}`]
        : [];
    lines.push(`- ${r.id}: ${[...r.notes, ...why].join("; ")}`);
  }
  return lines.join("\n");
}
