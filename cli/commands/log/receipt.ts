import { createPublicKey } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fromBinary, fromJsonString } from "@bufbuild/protobuf";
import { Command } from "commander";
import { type Receipt, ReceiptSchema } from "../../../proto/gen/xbus/v1/exchange_pb.js";
import { checkReceipt } from "../../../verifier/index.js";
import { readUserFile } from "../../user-file.js";
import { act, type Run, UsageError } from "../command.js";
import { type ApiFlags, api, apiOptions } from "./api-options.js";
import { publicKeyOption } from "./public-key-option.js";

interface ReceiptFlags extends ApiFlags {
  base64?: string;
  file?: string;
  json?: string;
  brokerKey?: string;
  publicKey?: string;
  offline?: true;
}

/** Where `xbus dev` writes the broker's receipt key. */
const DEV_BROKER_KEY = join(".xbus", "dev", "certs", "broker-signing.pub.pem");

function receiptOf(o: ReceiptFlags): Receipt {
  const given = [o.base64, o.file, o.json].filter((v) => v !== undefined);
  if (given.length !== 1)
    throw new UsageError(
      "give the receipt once: --base64 B64 or --file FILE (protobuf xbus.v1.Receipt), or --json JSON (as grpcurl prints it)",
    );
  if (o.json !== undefined) {
    try {
      return fromJsonString(ReceiptSchema, o.json);
    } catch (err) {
      throw new Error(`--json is not an xbus.v1.Receipt in protobuf JSON: ${(err as Error).message}`);
    }
  }
  const bytes = o.file !== undefined ? readUserFile(o.file) : Buffer.from(o.base64 ?? "", "base64");
  try {
    return fromBinary(ReceiptSchema, bytes);
  } catch (err) {
    throw new Error(`not a protobuf xbus.v1.Receipt (${bytes.length} bytes): ${(err as Error).message}`);
  }
}

export function receiptCommand(run: Run): Command {
  const cmd = apiOptions(
    new Command("receipt")
      .summary("check a Fetch's receipt: the broker's signature, and its leaf in the signed tree")
      .description(
        "Checks a receipt a Fetch answer carried (xbus.v1.Receipt: protobuf, or its JSON as grpcurl prints " +
          "the answer's \"receipt\"): the broker's signature, alone or batched, and unless --offline that its " +
          "leaf is in the log's latest signed tree. Exit 1 if not, 2 while the leaf is newer than the latest " +
          "signed tree head.",
      )
      .option("--base64 <b64>", "the receipt, protobuf, as base64")
      .option("--file <file>", "the receipt, protobuf, in a file")
      .option("--json <json>", "the receipt as protobuf JSON")
      .option("--broker-key <pem>", `the broker's receipt-signing public key (default ${DEV_BROKER_KEY})`)
      .addOption(
        publicKeyOption(
          "the log's public key, base64 of the raw 32-byte Ed25519 key: the tree head must be signed by it",
        ),
      )
      .option("--offline", "check the broker's signature only"),
  );
  return act<ReceiptFlags>(run, cmd, async (o) => {
    const say = (s: string) => run.io.out(`${s}\n`);
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
    say(
      `ok: leaf ${receipt.leafIndex} of ${receipt.logId}, signed by the broker (${how})` +
        (result.includedIn
          ? `, included in the signed tree of size ${result.includedIn.treeSize} (root ${result.includedIn.rootHash})`
          : " (not checked against the log: --offline)"),
    );
    return 0;
  });
}
