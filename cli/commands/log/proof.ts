import { writeFileSync } from "node:fs";
import { Command } from "commander";
import { verifyTlogProof } from "../../../verifier/index.js";
import { act, type Run } from "../command.js";
import { type ApiFlags, api, apiOptions } from "./api-options.js";
import { cosignedBy, logVkeyOf, witnessPolicyOf } from "./checkpoint.js";
import { extraMismatch } from "./receipt.js";
import { type ReceiptInputFlags, receiptInputOptions, receiptOf } from "./receipt-input.js";

interface ProofFlags extends ApiFlags, ReceiptInputFlags {
  out?: string;
  vkey?: string;
  policy?: string;
}

export function proofCommand(run: Run): Command {
  const cmd = apiOptions(
    receiptInputOptions(
      new Command("proof")
        .summary("upgrade a Fetch's receipt to a C2SP tlog-proof file that verifies offline")
        .description(
          "Fetches GET /v1/log/tlog-proof for the receipt's leaf (extra = the exchange ID), checks it against " +
            "the receipt's leaf hash and the log's verifier key before writing it, and writes it to --out " +
            "(default leaf-<index>.tlog-proof); with a witness policy the checkpoint must carry its quorum's " +
            "cosignatures. `xbus log receipt --offline --proof FILE` checks it with no " +
            "network. Exit 1 if it does not verify, 2 while the leaf is newer than the latest checkpoint.",
        ),
    )
      .option("--out <file>", "where to write the tlog-proof (default leaf-<index>.tlog-proof)")
      .option("--vkey <vkey>", "the log's verifier key (default: log_vkey of .xbus/dev/dev.json)")
      .option(
        "--policy <file>",
        "a C2SP tlog-policy the checkpoint's cosignatures must meet (default, without --vkey: witness_policy of dev.json)",
      ),
  );
  return act<ProofFlags>(run, cmd, async (o) => {
    const receipt = receiptOf(o);
    const vkey = logVkeyOf(o.vkey);
    const policy = witnessPolicyOf(o.policy, o.vkey);
    const index = Number(receipt.leafIndex);
    let text: string;
    try {
      text = await api(o).text("/v1/log/tlog-proof", { index });
    } catch (err) {
      const message = (err as Error).message;
      if (!/HTTP 404 leaf/.test(message)) throw err;
      run.io.out(`PENDING: ${message}\n`);
      return 2;
    }
    const checked = verifyTlogProof(
      text,
      { hash: Buffer.from(receipt.leafHash), index },
      { logVkey: vkey, policy },
    );
    if (!checked.ok) {
      run.io.out(`FAIL: the API's tlog-proof: ${checked.problem}\n`);
      return 1;
    }
    const extraProblem = extraMismatch(checked.extra, receipt.exchangeId);
    if (extraProblem) {
      run.io.out(`FAIL: the API's tlog-proof: ${extraProblem}\n`);
      return 1;
    }
    const out = o.out ?? `leaf-${index}.tlog-proof`;
    writeFileSync(out, text, { flag: "wx" });
    run.io.out(
      `ok: wrote ${out}: leaf ${index} of ${receipt.logId} in the checkpoint of size ${checked.checkpoint.size}` +
        `${checked.extra ? `, exchange ${checked.extra.toString()}` : ""}${cosignedBy(checked.cosigned)}\n`,
    );
    return 0;
  });
}
