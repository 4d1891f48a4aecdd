import type { KeyObject } from "node:crypto";
import { receiptSignedBytes } from "../core/log-format/index.js";
import { batchedFromFields, verifyBatchedSignature } from "../core/signing/index.js";
import type { Receipt } from "../proto/gen/xbus/v1/exchange_pb.js";
import type { ReviewClient, TreeHeadJson } from "./review-client.js";
import { treeHeadProblem } from "./tree-head.js";
import { verifyInclusion } from "./verify-tree.js";

export type ReceiptCheck =
  | {
      ok: true;
      batchSize: number;
      /** xbus-receipt/v2 only: the exchange the broker signed this receipt for. */
      exchangeId?: string;
      includedIn?: { treeSize: number; rootHash: string };
    }
  | { ok: false; pending?: boolean; problem: string };

/** An exchange id as the broker makes them (a UUID), or anything printable without a line break, bounded. */
const EXCHANGE_ID = /^[\x21-\x7e]{1,64}$/;

/** Why the receipt's exchange fields cannot be what a broker signed; undefined when they can. */
function exchangeFieldsProblem(r: Receipt): string | undefined {
  if (r.exchangeId === "" && r.requestHash.length === 0 && r.responseHash.length === 0) return undefined; // v1
  if (!EXCHANGE_ID.test(r.exchangeId))
    return "the receipt's exchange_id is empty, over 64 characters or not printable";
  if (r.requestHash.length !== 32) return "the receipt's request_hash is not 32 bytes";
  if (r.responseHash.length !== 0 && r.responseHash.length !== 32)
    return "the receipt's response_hash is neither empty nor 32 bytes";
  return undefined;
}

/**
 * What a consumer can prove with the receipt its answer carried: that the
 * broker signed it (alone or in a batch, core/signing/batch-signature.ts) —
 * from xbus-receipt/v2 with the exchange id and the request and response
 * hashes it names, which the consumer compares with its own — and, given
 * the review API, that its leaf is in a signed tree head of the log. The
 * log's key is the tree head's own unless `logPublicKey` (base64, raw
 * Ed25519) pins it. `pending`: the leaf is newer than the latest tree head.
 */
export async function checkReceipt(
  receipt: Receipt,
  brokerKey: KeyObject,
  review?: { client: ReviewClient; logPublicKey?: string | undefined },
): Promise<ReceiptCheck> {
  if (receipt.leafHash.length !== 32)
    return { ok: false, problem: "the receipt's leaf hash is not 32 bytes" };
  const fieldsProblem = exchangeFieldsProblem(receipt);
  if (fieldsProblem) return { ok: false, problem: fieldsProblem };
  const leafHash = Buffer.from(receipt.leafHash);
  const signed = receiptSignedBytes({ ...receipt, leafHash: leafHash.toString("hex") });
  if (!verifyBatchedSignature(signed, brokerKey, batchedFromFields(receipt))) {
    return { ok: false, problem: "the broker's signature over the receipt does not verify with this key" };
  }
  const batchSize = receipt.batchSize;
  const named = receipt.exchangeId === "" ? {} : { exchangeId: receipt.exchangeId };
  if (!review) return { ok: true, batchSize, ...named };

  const head = await review.client.get<TreeHeadJson>("/v1/log/tree-head");
  const problem = treeHeadProblem(head, "the API's tree head", {
    logId: { value: receipt.logId, from: "the receipt's" },
    key:
      review.logPublicKey === undefined ? undefined : { value: review.logPublicKey, from: "the pinned key" },
  });
  if (problem) return { ok: false, problem };
  const index = Number(receipt.leafIndex);
  if (index >= head.tree_size) {
    return {
      ok: false,
      pending: true,
      problem: `leaf ${index} is not in the latest signed tree head yet (size ${head.tree_size}); try again shortly`,
    };
  }
  const proof = await review.client.get<{ leaf_hash: string; audit_path: string[] }>(
    "/v1/log/proof/inclusion",
    {
      index,
      tree_size: head.tree_size,
    },
  );
  const included = verifyInclusion(
    index,
    head.tree_size,
    leafHash,
    proof.audit_path.map((h) => Buffer.from(h, "hex")),
    Buffer.from(head.root_hash, "hex"),
  );
  if (!included) {
    return {
      ok: false,
      problem: `leaf ${index} with this receipt's hash is not in the signed tree of size ${head.tree_size}`,
    };
  }
  return {
    ok: true,
    batchSize,
    ...named,
    includedIn: { treeSize: head.tree_size, rootHash: head.root_hash },
  };
}
