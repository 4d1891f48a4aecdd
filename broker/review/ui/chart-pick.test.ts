import { expect, it } from "vitest";
import { pickLine } from "./chart-pick.js";

// Which line a click on a chart drills down to (charts-view.js): what the Chromium test cannot steer to the pixel.

const NEAR = 16;

it("picks the shown line whose point is nearest the click, within the distance", () => {
  // Points at 10, 50 and 100 px from the top.
  expect(pickLine([10, 50, 100], [true, true, true], 48, NEAR)).toBe(1);
  expect(pickLine([10, 50, 100], [true, true, true], 112, NEAR)).toBe(2);
  expect(pickLine([10, 50, 100], [true, true, true], 26, NEAR)).toBe(0);
});

it("picks none when no shown point is within the distance, so the drill-down is the bucket alone", () => {
  expect(pickLine([10, 50, 100], [true, true, true], 75, NEAR)).toBe(-1);
  expect(pickLine([10, 50, 100], [true, false, true], 50, NEAR)).toBe(-1);
});

it("never picks a hidden line, and picks the only shown one wherever the click is", () => {
  expect(pickLine([10, 50, 100], [false, true, true], 10, NEAR)).toBe(-1);
  expect(pickLine([10, 50, 100], [false, false, true], 0, NEAR)).toBe(2);
  expect(pickLine([10], [true], 200, NEAR)).toBe(0);
  expect(pickLine([10, 50], [false, false], 10, NEAR)).toBe(-1);
});

it("on points at one height (equal counts), picks the first, a line nearer still wins", () => {
  expect(pickLine([40, 40, 60], [true, true, true], 41, NEAR)).toBe(0);
  expect(pickLine([40, 42, 60], [true, true, true], 42, NEAR)).toBe(1);
});
