import type { ReviewClient } from "../../verifier/index.js";

/** One exchange as `GET /v1/exchanges` lists it. */
export interface ExchangeJson {
  index: number;
  record: Record<string, unknown> | null;
}

/** A page of `GET /v1/exchanges`; `xbus log query --json` prints its pages joined in the same shape. */
export interface ExchangesPage {
  exchanges: ExchangeJson[];
  next_cursor: string | null;
}

/** The filters of `GET /v1/exchanges` (README, "Review API"); undefined ones are left out. */
export interface ExchangeFilters {
  consumer?: string | undefined;
  service?: string | undefined;
  subject?: string | undefined;
  purpose?: string | undefined;
  decision?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

/** The most the API answers in one page. */
const MAX_PAGE = 1000;

/**
 * The exchanges matching `filters`, newest first, from `cursor` on (the start when undefined), page by
 * page until `limit` in all or the last page. No page asks for more than is still wanted, so the last
 * page's `next_cursor` (the API reads one row ahead) says exactly whether more match, and is where to go on.
 */
export async function* exchangePages(
  client: ReviewClient,
  filters: ExchangeFilters,
  { limit, cursor }: { limit: number; cursor?: string | undefined },
): AsyncGenerator<ExchangesPage> {
  let remaining = limit;
  let next = cursor;
  while (remaining > 0) {
    const asked = Math.min(remaining, MAX_PAGE);
    const page = await client.get<ExchangesPage>("/v1/exchanges", { ...filters, cursor: next, limit: asked });
    // A server that breaks the paging contract must not make the CLI loop forever or overshoot.
    if (page.exchanges.length > asked)
      throw new Error(`the API answered ${page.exchanges.length} exchanges to limit=${asked}`);
    if (page.next_cursor !== null && (page.exchanges.length === 0 || page.next_cursor === next))
      throw new Error(`the API's next_cursor ${page.next_cursor} does not move past the page`);
    yield page;
    if (page.next_cursor === null) return;
    remaining -= page.exchanges.length;
    next = page.next_cursor;
  }
}
