import { appendFileSync, existsSync, readFileSync } from "node:fs";
import type { RevocationReason } from "./crl.js";
import type { CertRole } from "./profiles.js";

/**
 * The CA's issuance ledger: JSON lines, only ever appended. A revocation is a
 * later line naming the serial, never an edit of the issuing line, so the
 * file is a history a security team can read and diff.
 */
export type LedgerLine =
  | {
      event: "issued";
      serial: string;
      spiffe_id: string | null;
      role: CertRole;
      common_name: string;
      not_before: string;
      not_after: string;
      issued_at: string;
    }
  | { event: "revoked"; serial: string; reason: RevocationReason; revoked_at: string }
  | { event: "crl"; number: number; this_update: string; next_update: string; revoked: number };

export interface LedgerCertificate {
  serial: string;
  spiffeId: string | null;
  role: CertRole;
  commonName: string;
  notBefore: Date;
  notAfter: Date;
  issuedAt: Date;
  revoked: { reason: RevocationReason; at: Date } | undefined;
}

export interface LedgerState {
  /** In issuing order. */
  certificates: LedgerCertificate[];
  bySerial: Map<string, LedgerCertificate>;
  lastCrlNumber: number;
}

export function appendLedger(path: string, line: LedgerLine): void {
  appendFileSync(path, `${JSON.stringify(line)}\n`, { mode: 0o644, flag: "a" });
}

export function readLedger(path: string): LedgerState {
  const state: LedgerState = { certificates: [], bySerial: new Map(), lastCrlNumber: 0 };
  if (!existsSync(path)) return state;
  const lines = readFileSync(path, "utf8").split("\n");
  lines.forEach((text, i) => {
    if (text.trim() === "") return;
    let line: LedgerLine;
    try {
      line = JSON.parse(text) as LedgerLine;
    } catch {
      throw new Error(`${path}:${i + 1}: not a JSON line; the ledger is damaged`);
    }
    if (line.event === "issued") {
      const c: LedgerCertificate = {
        serial: line.serial,
        spiffeId: line.spiffe_id,
        role: line.role,
        commonName: line.common_name,
        notBefore: new Date(line.not_before),
        notAfter: new Date(line.not_after),
        issuedAt: new Date(line.issued_at),
        revoked: undefined,
      };
      state.certificates.push(c);
      state.bySerial.set(c.serial, c);
    } else if (line.event === "revoked") {
      const c = state.bySerial.get(line.serial);
      if (c && !c.revoked) c.revoked = { reason: line.reason, at: new Date(line.revoked_at) };
    } else if (line.event === "crl") {
      state.lastCrlNumber = Math.max(state.lastCrlNumber, line.number);
    }
  });
  return state;
}

export type CertificateStatus = "valid" | "expiring" | "expired" | "not-yet-valid" | "revoked";

/** Expiring = valid, with fewer than `warnDays` left. */
export function statusOf(c: LedgerCertificate, now: Date, warnDays = 14): CertificateStatus {
  if (c.revoked) return "revoked";
  if (c.notAfter.getTime() <= now.getTime()) return "expired";
  if (c.notBefore.getTime() > now.getTime()) return "not-yet-valid";
  if (c.notAfter.getTime() - now.getTime() < warnDays * 86_400_000) return "expiring";
  return "valid";
}
