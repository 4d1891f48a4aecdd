import { generateKeyPairSync, randomBytes } from "node:crypto";
import { signRoute, verifyRoute } from "../../core/route-signature.js";
import type { MicroBenchmark } from "./registry.js";

/**
 * Every exchange is signed once by the broker and verified once by the connector (Ed25519, on libuv's
 * thread pool: one at a time here, so this is the latency of the pair, not the throughput of the pool).
 */
export const benchmarks: MicroBenchmark[] = [
  {
    name: "route signature: broker signs + connector verifies (Ed25519)",
    setup() {
      const { privateKey, publicKey } = generateKeyPairSync("ed25519");
      const input = {
        exchangeId: "01930000-0000-7000-8000-000000000000",
        subject: "xbus.svc.dcrc.citizen-record",
        deadlineMs: Date.now() + 10_000,
        body: randomBytes(120),
      };
      return {
        async run() {
          if (!(await verifyRoute([publicKey], input, await signRoute(privateKey, input))))
            throw new Error("bad signature");
          return 1;
        },
      };
    },
  },
];
