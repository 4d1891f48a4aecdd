import { describe, expect, it } from "vitest";
import type { ReviewClient } from "../../verifier/index.js";
import { type ExchangesPage, exchangePages } from "./query.js";

/** A stand-in for the review API: what the paging asks for is the point here, not the answers. */
function fakeApi(answer: (query: Record<string, string | number | undefined>) => ExchangesPage) {
  const asked: Record<string, string | number | undefined>[] = [];
  const client: ReviewClient = {
    async get<T>(_path: string, query: Record<string, string | number | undefined> = {}) {
      asked.push(query);
      return answer(query) as T;
    },
  };
  return { client, asked };
}

const rows = (n: number, below: number) =>
  Array.from({ length: n }, (_, i) => ({ index: below - 1 - i, record: null }));

async function collect(it: AsyncIterable<ExchangesPage>): Promise<ExchangesPage[]> {
  const out: ExchangesPage[] = [];
  for await (const p of it) out.push(p);
  return out;
}

describe("exchangePages", () => {
  it("asks each page for no more than is still wanted, with the filters and the last cursor", async () => {
    const { client, asked } = fakeApi((q) => {
      const below = q.cursor === undefined ? 5000 : Number(q.cursor);
      const page = rows(Number(q.limit), below);
      return { exchanges: page, next_cursor: String(page.at(-1)?.index) };
    });
    const pages = await collect(exchangePages(client, { decision: "deny" }, { limit: 2150 }));
    expect(pages.map((p) => p.exchanges.length)).toEqual([1000, 1000, 150]);
    expect(asked).toEqual([
      { decision: "deny", cursor: undefined, limit: 1000 },
      { decision: "deny", cursor: "4000", limit: 1000 },
      { decision: "deny", cursor: "3000", limit: 150 },
    ]);
  });

  it("stops at the page whose next_cursor is null", async () => {
    const { client, asked } = fakeApi(() => ({ exchanges: rows(3, 3), next_cursor: null }));
    const pages = await collect(exchangePages(client, {}, { limit: 50, cursor: "3" }));
    expect(pages).toHaveLength(1);
    expect(asked).toEqual([{ cursor: "3", limit: 50 }]);
  });

  it("refuses an API whose cursor does not move, or that answers more than asked", async () => {
    const stuck = fakeApi(() => ({ exchanges: [], next_cursor: "7" }));
    await expect(collect(exchangePages(stuck.client, {}, { limit: 5000 }))).rejects.toThrow(
      "next_cursor 7 does not move past the page",
    );
    const same = fakeApi(() => ({ exchanges: rows(1, 8), next_cursor: "7" }));
    await expect(collect(exchangePages(same.client, {}, { limit: 5000, cursor: "7" }))).rejects.toThrow(
      "does not move",
    );
    const over = fakeApi(() => ({ exchanges: rows(51, 100), next_cursor: null }));
    await expect(collect(exchangePages(over.client, {}, { limit: 50 }))).rejects.toThrow(
      "answered 51 exchanges to limit=50",
    );
  });
});
