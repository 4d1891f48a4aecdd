// @ts-check
// The list views' paging through the API's next_cursor.

import { failed } from "./api.js";
import { el, setStatus } from "./dom.js";

/**
 * A list view's paging: `load(cursor)` fetches one page; "Newer" and "Older" step through pages by the
 * API's next_cursor, remembering the cursors already seen.
 * @template {{next_cursor?: unknown}} P
 * @param {Element} where
 * @param {(cursor: string | undefined) => Promise<P>} load
 * @param {(page: P, n: number) => Node} render the page, and its number from 1
 */
export function pager(where, load, render) {
  /** @type {(string | undefined)[]} */
  const cursors = [undefined];
  let at = 0;
  /** @param {number} i */
  const go = async (i) => {
    setStatus("Loading…");
    try {
      const page = await load(cursors[i]);
      at = i;
      if (page.next_cursor !== null && page.next_cursor !== undefined)
        cursors[i + 1] = String(page.next_cursor);
      else cursors.length = i + 1;
      const newer = el("button", { type: "button", disabled: at === 0 }, "Newer page");
      const older = el("button", { type: "button", disabled: cursors[at + 1] === undefined }, "Older page");
      newer.addEventListener("click", () => void go(at - 1));
      older.addEventListener("click", () => void go(at + 1));
      const nav = el("div", { class: "pager", role: "group", "aria-label": "Pages" }, newer, older);
      where.replaceChildren(render(page, at + 1), nav);
      setStatus(`Page ${at + 1} loaded.`);
    } catch (err) {
      failed(err, where);
    }
  };
  return go(0);
}
