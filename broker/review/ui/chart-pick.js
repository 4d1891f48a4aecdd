// @ts-check
// Which line of a chart a click means, apart from the drawing so that it is tested without a browser
// (chart-pick.test.ts): the charts view (charts-view.js) drills down to that line's rows.

/**
 * The line a click at height `top` means, given the heights of the lines' points at the clicked bucket
 * (`ys`, CSS pixels from the top of the plot, as `top`) and which lines are shown: the only one shown;
 * else the shown one whose point is nearest the click, if within `near` pixels (the first on a tie);
 * else none, -1.
 * @param {readonly number[]} ys @param {readonly boolean[]} shown @param {number} top @param {number} near
 * @returns {number}
 */
export function pickLine(ys, shown, top, near) {
  const candidates = ys.map((_, i) => i).filter((i) => shown[i]);
  if (candidates.length === 1) return candidates[0] ?? -1;
  let best = -1;
  let bestPx = near;
  for (const i of candidates) {
    const px = Math.abs((ys[i] ?? Number.NaN) - top);
    if (px <= bestPx && (best === -1 || px < bestPx)) [best, bestPx] = [i, px];
  }
  return best;
}
