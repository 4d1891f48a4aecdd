import type { KeyObject } from "node:crypto";
import type { Metadata } from "@grpc/grpc-js";
import { parseServiceName } from "../../core/contract/index.js";
import { XbusError } from "../../core/index.js";
import { createRouteVerifier, RouteMetadata } from "../../core/signing/index.js";
import type { AdapterFetchRequest } from "../../proto/gen/xbus/v1/adapter_pb.js";

/**
 * The adapter's own check of the broker's decision (README, "The adapter's
 * side of a route"): a connector's certificate alone unlocks nothing. Each
 * Fetch must carry the route the broker signed for it, passed on by the
 * connector in gRPC metadata, and the route must cover this very request:
 *
 *   xbus-route-signature  base64 of the broker's Ed25519 signature (alone, or with its batch proof)
 *   xbus-route-deadline   the route's deadline, milliseconds since the epoch
 *
 * over "xbus-route/v1\n" exchange_id "\n" "xbus.svc." service "\n" deadline "\n" hex(SHA-256(request bytes)),
 * where exchange_id and service are the request's and the bytes are the request exactly as received.
 * The service must be this adapter's agency's and the deadline still ahead. Returns the route's deadline.
 */
export type RouteCheck = (
  req: AdapterFetchRequest,
  body: Uint8Array,
  metadata: Metadata,
  now?: number,
) => Promise<number>;

const DEADLINE = /^[0-9]{1,15}$/;
/** Longer than any service name the catalogue admits; a longer one cannot have been signed. */
const MAX_SERVICE = 200;

export function createRouteCheck(agency: string, brokerKeys: readonly KeyObject[]): RouteCheck {
  if (brokerKeys.length === 0) throw new Error("an adapter needs the broker keys it checks routes with");
  const verify = createRouteVerifier(brokerKeys);
  return async (req, body, metadata, now = Date.now()) => {
    const signature = metadata.get(RouteMetadata.signature)[0];
    const deadline = metadata.get(RouteMetadata.deadline)[0];
    if (typeof signature !== "string" || typeof deadline !== "string")
      throw new XbusError(
        "BAD_ROUTE_SIGNATURE",
        `the call carries no broker route (${RouteMetadata.signature}, ${RouteMetadata.deadline})`,
      );
    if (!DEADLINE.test(deadline))
      throw new XbusError(
        "BAD_ROUTE_SIGNATURE",
        `${RouteMetadata.deadline} is not milliseconds since the epoch`,
      );
    const deadlineMs = Number(deadline);
    const ok =
      req.service.length <= MAX_SERVICE &&
      (await verify(
        { exchangeId: req.exchangeId, subject: `xbus.svc.${req.service}`, deadlineMs, body },
        signature,
      ));
    if (!ok) throw new XbusError("BAD_ROUTE_SIGNATURE", "the request is not the one a trusted broker routed");
    if (parseServiceName(req.service).agency !== agency)
      throw new XbusError("WRONG_AGENCY", `the route is for a service of another agency than ${agency}`);
    if (deadlineMs <= now) throw new XbusError("DEADLINE_EXCEEDED", "the route's deadline has passed");
    return deadlineMs;
  };
}
