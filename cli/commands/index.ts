import { adapterCommand } from "./adapter.js";
import { benchCommand } from "./bench.js";
import { brokerCommand } from "./broker.js";
import { certsCommand } from "./certs.js";
import type { XbusCommand } from "./command.js";
import { connectorCommand } from "./connector.js";
import { devCommand } from "./dev.js";
import { faultsCommand } from "./faults.js";
import { federationCommand } from "./federation.js";
import { logCommand } from "./log/index.js";
import { natsCommand } from "./nats.js";
import { policyCommand } from "./policy.js";
import { witnessCommand } from "./witness.js";

/** Every `xbus` subcommand, in the order `xbus --help` lists them. Add a new one here. */
export const commands: readonly XbusCommand[] = [
  devCommand,
  certsCommand,
  brokerCommand,
  connectorCommand,
  federationCommand,
  natsCommand,
  adapterCommand,
  policyCommand,
  logCommand,
  witnessCommand,
  benchCommand,
  faultsCommand,
];
