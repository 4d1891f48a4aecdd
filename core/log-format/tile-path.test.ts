import { describe, expect, it } from "vitest";
import { MAX_TILE_INDEX, parseTilePath, TilePathError, tilePath } from "./tile-path.js";

// The C2SP tlog-tiles path of a hash tile, both ways; the spec's own example first.

describe("tilePath and parseTilePath", () => {
  it("encodes the index as the spec's example does, and parses back every encoding it writes", () => {
    expect(tilePath({ level: 0, index: 1234067, width: 256 })).toBe("tile/0/x001/x234/067");
    expect(tilePath({ level: 2, index: 0, width: 1 })).toBe("tile/2/000.p/1");
    expect(tilePath({ level: 1, index: 1000, width: 17 })).toBe("tile/1/x001/000.p/17");
    for (const t of [
      { level: 0, index: 0, width: 256 },
      { level: 63, index: 999, width: 255 },
      { level: 1, index: 1000, width: 17 },
      { level: 0, index: 1234067, width: 3 },
      { level: 0, index: MAX_TILE_INDEX, width: 256 },
    ])
      expect(parseTilePath(tilePath(t).slice("tile/".length))).toEqual(t);
  });

  it.each([
    ["", /tile level must be 0 to 63/],
    ["64/000", /tile level must be 0 to 63 without leading zeros, got "64"/],
    ["01/000", /tile level .* got "01"/],
    ["-1/000", /tile level/],
    ["a/000", /tile level/],
    ["0", /no tile index after the level/],
    ["0/", /no tile index after the level/],
    ["0/000.p/0", /partial tile width must be 1 to 255 without leading zeros, got "0"/],
    ["0/000.p/256", /partial tile width must be 1 to 255 .* got "256"/],
    ["0/000.p/007", /partial tile width .* got "007"/],
    ["0/000.p/", /partial tile width .* got ""/],
    ["0/000.p", /tile index element "000.p" must be three digits/],
    ["0/1", /tile index element "1" must be three digits/],
    ["0/0001", /tile index element "0001"/],
    ["0/001/002", /tile index element "001" must be x and three digits/],
    ["0/x001", /tile index element "x001" must be three digits/],
    ["0/x000/001", /tile index "x000\/001" has leading zeros/],
    ["0/x001/x234/067/", /tile index element "067" must be x and three digits/],
    ["0/x001/x234/067/extra", /tile index element "067" must be x and three digits/],
    ["0/x001/002.p/5/6", /tile index element "002.p" must be x/],
    ["0/x001/x002/x003/x004/x005/006", /tile index has 6 path elements, at most 5/],
    ["0/x999/x999/x999/x999/999", /tile index 999999999999999 is too large/],
    ["entries/000", /tile level/],
  ])("refuses %j, naming what is wrong", (path, message) => {
    expect(() => parseTilePath(path)).toThrow(TilePathError);
    expect(() => parseTilePath(path)).toThrow(message);
  });
});
