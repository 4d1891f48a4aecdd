import { fromBinary, fromJsonString } from "@bufbuild/protobuf";
import type { Command } from "commander";
import { type Receipt, ReceiptSchema } from "../../../proto/gen/xbus/v1/exchange_pb.js";
import { readUserFile } from "../../user-file.js";
import { UsageError } from "../command.js";

/** How a receipt is given on the command line: one of three forms. */
export interface ReceiptInputFlags {
  base64?: string;
  file?: string;
  json?: string;
}

/** --base64, --file and --json, for the commands that take a Fetch's receipt. */
export function receiptInputOptions(cmd: Command): Command {
  return cmd
    .option("--base64 <b64>", "the receipt, protobuf, as base64")
    .option("--file <file>", "the receipt, protobuf, in a file")
    .option("--json <json>", "the receipt as protobuf JSON");
}

export function receiptOf(o: ReceiptInputFlags): Receipt {
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
