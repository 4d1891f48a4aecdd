import { createPublicKey } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";
import { checkReceipt, verifyTlogProof } from "../../../verifier/index.js";
import { readUserFile } from "../../user-file.js";
import { act, type Run, UsageError } from "../command.js";
import { type ApiFlags, api, apiOptions } from "./api-options.js";
import { cosignedBy, logVkeyOf, witnessPolicyOf } from "./checkpoint.js";
import { publicKeyOption } from "./public-key-option.js";
import { type ReceiptInputFlags, receiptInputOptions, receiptOf } from "./receipt-input.js";

interface ReceiptFlags extends ApiFlags, ReceiptInputFlags {
  brokerKey?: string;
  publicKey?: string;
  offline?: true;
  proof?: string;
  vkey?: string;
  policy?: string;
}

/** Where `xbus dev` writes the broker's receipt key. */
const DEV_BROKER_KEY = join(".xbus", "dev", "certs", "broker-signing.pub.pem");

export function receiptCommand(run: Run): Command {
  const cmd = apiOptions(
    receiptInputOptions(
      new Command("receipt")
        .summary("check a Fetch's receipt: the broker's signature, and its leaf in the signed tree")
        .description(
          "Checks a receipt a Fetch answer carried (xbus.v1.Receipt: protobuf, or its JSON as grpcurl prints " +
            "the answer's \"receipt\"): the broker's signature, alone or batched, and unless --offline that its " +
            "leaf is in the log's latest signed tree. With --offline --proof FILE (a tlog-proof from `xbus log " +
            "proof`) it proves the leaf is in a checkpoint signed by the log's key (--vkey) and, with --policy, " +
            "cosigned by a quorum of witnesses, with no network at all. Exit 1 if not, 2 while the leaf is newer " +
            "than the latest signed tree head.",
        ),
    )
      .option("--broker-key <pem>", `the broker's receipt-signing public key (default ${DEV_BROKER_KEY})`)
      .addOption(
        publicKeyOption(
          "the log's public key, base64 of the raw 32-byte Ed25519 key: the tree head must be signed by it",
        ),
      )
      .option("--offline", "use no network: check the broker's signature, and the --proof file if given")
      .option("--proof <file>", "with --offline: a C2SP tlog-proof of the receipt's leaf (`xbus log proof`)")
      .option(
        "--vkey <vkey>",
        "with --proof: the log's verifier key (default: log_vkey of .xbus/dev/dev.json)",
      )
      .option(
        "--policy <file>",
        "with --proof: a C2SP tlog-policy the checkpoint's cosignatures must meet (default, without --vkey: witness_policy of dev.json)",
      ),
  );
  return act<ReceiptFlags>(run, cmd, async (o) => {
    const say = (s: string) => run.io.out(`${s}\n`);
    if ((o.proof !== undefined || o.policy !== undefined) && !o.offline)
      throw new UsageError("--proof and --policy check a tlog-proof offline: give --offline too");
    if (o.policy !== undefined && o.proof === undefined) throw new UsageError("--policy needs --proof FILE");
    const receipt = receiptOf(o);
    const keyFile = o.brokerKey ?? DEV_BROKER_KEY;
    if (!existsSync(keyFile))
      throw new Error(`no broker key at ${keyFile}: pass --broker-key with the broker's signing key (PEM)`);
    const brokerKey = createPublicKey(readUserFile(keyFile));
    if (brokerKey.asymmetricKeyType !== "ed25519")
      throw new Error(
        `${keyFile}: the broker's receipt key is Ed25519, this is ${brokerKey.asymmetricKeyType}`,
      );
    const result = await checkReceipt(
      receipt,
      brokerKey,
      o.offline ? undefined : { client: api(o), logPublicKey: o.publicKey },
    );
    if (!result.ok) {
      say(`${result.pending ? "PENDING" : "FAIL"}: ${result.problem}`);
      return result.pending ? 2 : 1;
    }
    const how = result.batchSize === 0 ? "alone" : `in a batch of ${result.batchSize}`;
    let where = result.includedIn
      ? `, included in the signed tree of size ${result.includedIn.treeSize} (root ${result.includedIn.rootHash})`
      : " (not checked against the log: --offline)";
    if (o.proof !== undefined) {
      const vkey = logVkeyOf(o.vkey);
      const policy = witnessPolicyOf(o.policy, o.vkey);
      const proof = verifyTlogProof(
        readUserFile(o.proof).toString(),
        { hash: Buffer.from(receipt.leafHash), index: Number(receipt.leafIndex) },
        { logVkey: vkey, policy },
      );
      if (!proof.ok) {
        say(`FAIL: ${o.proof}: ${proof.problem}`);
        return 1;
      }
      const extraProblem = extraMismatch(proof.extra, receipt.exchangeId);
      if (extraProblem) {
        say(`FAIL: ${o.proof}: ${extraProblem}`);
        return 1;
      }
      if (proof.checkpoint.origin !== receipt.logId) {
        say(
          `FAIL: ${o.proof}: the checkpoint is of log ${proof.checkpoint.origin}, the receipt of ${receipt.logId}`,
        );
        return 1;
      }
      const cosigned = cosignedBy(proof.cosigned);
      where = `, included in the checkpoint of size ${proof.checkpoint.size} signed by the log's key${cosigned} (offline, tlog-proof ${o.proof})`;
    }
    const exchange = result.exchangeId === undefined ? "" : ` for exchange ${result.exchangeId}`;
    say(
      `ok: leaf ${receipt.leafIndex} of ${receipt.logId}, signed by the broker (${how})${exchange}${where}`,
    );
    return 0;
  });
}

/**
 * A tlog-proof's `extra` is the exchange id the log service says the leaf holds: unchecked by the proof, so
 * it must agree with the one the broker signed into the receipt (xbus-receipt/v2), when both name one.
 */
export function extraMismatch(extra: Buffer | undefined, exchangeId: string): string | undefined {
  if (extra === undefined || exchangeId === "" || extra.toString() === exchangeId) return undefined;
  return `the proof's extra names exchange ${JSON.stringify(extra.toString().slice(0, 64))}, the receipt ${exchangeId}`;
}
