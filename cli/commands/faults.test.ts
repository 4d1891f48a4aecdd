import { describe, expect, it } from "vitest";
import { selectRows, TARGETS } from "../../faults/run.js";
import { UsageError } from "./command.js";
import { faultsOptions } from "./faults.js";

/*
 * `xbus faults --target`: which topology the rows run on, and which rows run there when --rows is not
 * given (each needs capabilities its target must have; the rest are not run, not reported as skipped).
 */
describe("xbus faults --target", () => {
  it("takes single-node (the default) or cluster, and refuses another name, naming the known ones", () => {
    expect(faultsOptions({}, () => {}).target).toBe("single-node");
    expect(faultsOptions({ target: "cluster" }, () => {}).target).toBe("cluster");
    expect(() => faultsOptions({ target: "toString" }, () => {})).toThrow(UsageError);
    expect(() => faultsOptions({ target: "mesh" }, () => {})).toThrow(/targets: single-node, cluster/);
  });

  it("runs on each target the rows it can do: the cluster's node faults there, the single nats-server's here", () => {
    const on = (kind: keyof typeof TARGETS) =>
      selectRows(undefined, TARGETS[kind].capabilities).map((r) => r.id);
    const cluster = on("cluster");
    expect(cluster).toEqual(
      expect.arrayContaining([
        "core-kill-leader",
        "core-kill-follower",
        "quorum-lost",
        "leaf-kill",
        "core-freeze",
        "broker-kill",
        "log-service-kill",
      ]),
    );
    expect(cluster).not.toContain("nats-kill");
    expect(cluster).not.toContain("log-full");
    const single = on("single-node");
    expect(single).toEqual(expect.arrayContaining(["nats-kill", "log-full", "connector-kill-one"]));
    expect(single).not.toContain("quorum-lost");
    // The single node's broker and log service share the harness's process: neither can be killed alone.
    expect(single).not.toContain("broker-kill");
    expect(single).not.toContain("log-service-kill");
    // Revocation cannot be undone: it runs last on both.
    expect(cluster.at(-1)).toBe("cert-revoked");
    expect(single.at(-1)).toBe("cert-revoked");
  });
});
