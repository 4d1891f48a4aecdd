import { Hono } from "hono";
import { parseWorkloadId } from "../../../core/contract/index.js";
import type { ReviewParams } from "../params.js";
import type { ReviewContext } from "./context.js";

/** One consumer agency's exchanges still hidden from their citizens, by day of release. */
interface AgencyEmbargoes {
  agency: string;
  count: number;
  releases: { day: string; consumer: string; count: number; first: number; last: number }[];
}

/**
 * Oversight of delayed disclosure (README, "Delayed disclosure"): how many covert exchanges each agency
 * made that their citizens cannot see yet, and when each becomes visible. Reviewers see the exchanges
 * themselves in /v1/exchanges as always; this is the count an oversight body asks for first.
 */
export function oversightRoutes({ index, now }: ReviewContext, p: ReviewParams): Hono {
  return new Hono().get("/v1/oversight/embargoes", p.none, async (c) => {
    const at = await now();
    const byAgency = new Map<string, AgencyEmbargoes>();
    for (const r of index.embargoes(at)) {
      let agency = "";
      try {
        agency = parseWorkloadId(r.consumer).agency;
      } catch {
        // Only allowed exchanges are embargoed, so the consumer was identified; kept visible if not.
      }
      const a = byAgency.get(agency) ?? { agency, count: 0, releases: [] };
      a.count += r.count;
      a.releases.push({
        day: new Date(r.first).toISOString().slice(0, 10),
        consumer: r.consumer,
        count: r.count,
        first: r.first,
        last: r.last,
      });
      byAgency.set(agency, a);
    }
    const agencies = [...byAgency.values()].sort(
      (x, y) => y.count - x.count || (x.agency < y.agency ? -1 : 1),
    );
    return c.json({ now: at, total: agencies.reduce((n, a) => n + a.count, 0), agencies });
  });
}
