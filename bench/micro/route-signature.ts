import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createRouteVerifier, signRoute } from "../../core/signing/index.js";
import type { MicroBenchmark } from "./registry.js";

const IN_FLIGHT = 64;

/**
 * Every exchange is signed by the broker and checked by the connector
 * (Ed25519 settled once per event-loop turn; under load one signature covers a
 * batch of routes, core/signing/batch-signature.ts). 64 pairs are in flight at once,
 * as under load: µs/op is the wall time per pair, what the broker and a
 * connector sustain together, not the latency of one pair.
 */
export const benchmarks: MicroBenchmark[] = [
  {
    name: `route signature: broker signs + connector verifies (Ed25519, ${IN_FLIGHT} in flight)`,
    setup() {
      const { privateKey, publicKey } = generateKeyPairSync("ed25519");
      const input = {
        exchangeId: "01930000-0000-7000-8000-000000000000",
        subject: "xbus.svc.dcrc.citizen-record",
        deadlineMs: Date.now() + 10_000,
        body: randomBytes(120),
      };
      const verifyRoute = createRouteVerifier([publicKey]);
      const pair = async () => {
        if (!(await verifyRoute(input, await signRoute(privateKey, input)))) throw new Error("bad signature");
      };
      return {
        async run() {
          await Promise.all(Array.from({ length: IN_FLIGHT }, pair));
          return IN_FLIGHT;
        },
      };
    },
  },
];
