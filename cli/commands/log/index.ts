import { Command } from "commander";
import type { XbusCommand } from "../command.js";
import { alertsCommand } from "./alerts.js";
import { checkpointCommand } from "./checkpoint.js";
import { exportCommand } from "./export.js";
import { monitorCommand } from "./monitor.js";
import { proofCommand } from "./proof.js";
import { queryCommand } from "./query.js";
import { receiptCommand } from "./receipt.js";
import { reindexCommand } from "./reindex.js";
import { serveCommand } from "./serve.js";
import { verifyCommand } from "./verify.js";

/** `xbus log`: one file per subcommand beside this one. */
export const logCommand: XbusCommand = {
  name: "log",
  create: (run) =>
    new Command("log")
      .summary(
        "serve, verify, monitor, export, query, alert on or reindex the exchange log; check a Fetch's receipt",
      )
      .addCommand(serveCommand(run))
      .addCommand(verifyCommand(run))
      .addCommand(exportCommand(run))
      .addCommand(queryCommand(run))
      .addCommand(alertsCommand(run))
      .addCommand(reindexCommand(run))
      .addCommand(receiptCommand(run))
      .addCommand(proofCommand(run))
      .addCommand(checkpointCommand(run))
      .addCommand(monitorCommand(run)),
};
