import { parseVkey, SIG_COSIGNATURE_V1, SIG_ED25519, type Vkey } from "../core/log-format/index.js";

/**
 * A C2SP tlog-policy file (c2sp.org/tlog-policy): the logs and witnesses a verifier trusts and the
 * quorum of cosignatures a checkpoint needs. Lines: `log <vkey> [url]`, `witness <name> <vkey> [url]`,
 * `group <name> all|any|<k> <member>…`, `quorum <name>|none`; `#` comments and blank lines ignored.
 */
export interface WitnessPolicy {
  logs: { vkey: Vkey; url?: string }[];
  witnesses: Map<string, { vkey: Vkey; url?: string }>;
  /** Whether a set of witness names that cosigned satisfies the quorum. */
  satisfied(cosigners: ReadonlySet<string>): boolean;
  /** The policy's quorum line, for messages. */
  quorum: string;
  /** The policy as it was written, for whoever must read it too (the review UI checks tlog-proofs by it). */
  text: string;
}

type Rule = (have: ReadonlySet<string>) => boolean;

/** Parses a policy; throws naming the line and what is wrong with it. */
export function parseWitnessPolicy(text: string): WitnessPolicy {
  const logs: WitnessPolicy["logs"] = [];
  const witnesses: WitnessPolicy["witnesses"] = new Map();
  const rules = new Map<string, Rule>();
  const keys = new Set<string>();
  let quorum: { name: string; rule: Rule } | undefined;
  const lines = text.split("\n");
  lines.forEach((raw, i) => {
    const at = `policy line ${i + 1}`;
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const [kind, ...args] = line.split(/[ \t]+/);
    const vkeyOf = (s: string | undefined, type: number): Vkey => {
      if (s === undefined) throw new Error(`${at}: no verifier key`);
      let v: Vkey;
      try {
        v = parseVkey(s);
      } catch (err) {
        throw new Error(`${at}: ${(err as Error).message}`);
      }
      if (v.type !== type)
        throw new Error(`${at}: the key is of signature type ${v.type}, a ${kind} key is of type ${type}`);
      const k = v.key.toString("hex");
      if (keys.has(k)) throw new Error(`${at}: this public key is listed twice`);
      keys.add(k);
      return v;
    };
    const defined = (name: string | undefined) => {
      if (name === undefined) throw new Error(`${at}: a name is missing`);
      if (name === "none") throw new Error(`${at}: "none" cannot be used here`);
      const rule = rules.get(name);
      if (!rule) throw new Error(`${at}: ${name} is not defined on an earlier line`);
      return rule;
    };
    const fresh = (name: string | undefined): string => {
      if (name === undefined || name === "") throw new Error(`${at}: a name is missing`);
      if (name === "none" || rules.has(name)) throw new Error(`${at}: ${name} is already defined`);
      return name;
    };
    switch (kind) {
      case "log": {
        if (args.length > 2) throw new Error(`${at}: log <vkey> [url]`);
        const vkey = vkeyOf(args[0], SIG_ED25519);
        logs.push({ vkey, ...(args[1] !== undefined && { url: args[1] }) });
        return;
      }
      case "witness": {
        if (args.length < 2 || args.length > 3) throw new Error(`${at}: witness <name> <vkey> [url]`);
        const name = fresh(args[0]);
        const vkey = vkeyOf(args[1], SIG_COSIGNATURE_V1);
        witnesses.set(name, { vkey, ...(args[2] !== undefined && { url: args[2] }) });
        rules.set(name, (have) => have.has(name));
        return;
      }
      case "group": {
        const [n, threshold, ...members] = args;
        const name = fresh(n);
        if (members.length === 0) throw new Error(`${at}: a group has at least one member`);
        if (new Set(members).size !== members.length) throw new Error(`${at}: a member is listed twice`);
        const memberRules = members.map(defined);
        let k: number;
        if (threshold === "all") k = members.length;
        else if (threshold === "any") k = 1;
        else if (
          threshold !== undefined &&
          /^[1-9][0-9]*$/.test(threshold) &&
          Number(threshold) <= members.length
        )
          k = Number(threshold);
        else throw new Error(`${at}: the threshold is all, any or a number from 1 to ${members.length}`);
        rules.set(name, (have) => memberRules.filter((r) => r(have)).length >= k);
        return;
      }
      case "quorum": {
        if (quorum) throw new Error(`${at}: a second quorum line`);
        if (args.length !== 1) throw new Error(`${at}: quorum <name>`);
        const name = args[0] as string;
        quorum = { name, rule: name === "none" ? () => true : defined(name) };
        return;
      }
      default:
        throw new Error(`${at}: unknown line kind ${JSON.stringify(kind)}`);
    }
  });
  if (!quorum) throw new Error("the policy has no quorum line");
  const q = quorum;
  return { logs, witnesses, quorum: q.name, text, satisfied: (have) => q.rule(have) };
}
