import { X509Certificate } from "node:crypto";

/**
 * How long a process's own certificate has left. X-Road members learn of an
 * expired certificate from the outage; here each process logs it at start and
 * on every reload, warns from `warnDays` out, and keeps the number for a
 * metrics gauge.
 */
export interface CertificateExpiry {
  serial: string;
  notAfter: Date;
  /** Whole days left, negative once expired. */
  daysToExpiry: number;
  /** Fewer than warnDays left (or expired). */
  warn: boolean;
}

export const EXPIRY_WARN_DAYS = 14;

export function certificateExpiry(
  pem: string,
  now = new Date(),
  warnDays = EXPIRY_WARN_DAYS,
): CertificateExpiry {
  const x = new X509Certificate(pem);
  const notAfter = new Date(x.validTo);
  const daysToExpiry = Math.floor((notAfter.getTime() - now.getTime()) / 86_400_000);
  return { serial: x.serialNumber.toUpperCase(), notAfter, daysToExpiry, warn: daysToExpiry < warnDays };
}

/** Where the lines below go: a process's logger, or a test's. */
interface ExpiryLogger {
  info(f: Record<string, unknown>, m: string): void;
  warn(f: Record<string, unknown>, m: string): void;
}

export function logCertificateExpiry(logger: ExpiryLogger, pem: string, now = new Date()): CertificateExpiry {
  const e = certificateExpiry(pem, now);
  const fields = expiryFields(e);
  if (e.warn) logger.warn(fields, "own certificate expires soon: renew it (xbus certs issue --renew)");
  else logger.info(fields, "own certificate");
  return e;
}

/**
 * One line for a renewal a process has put in force: the workload, the new
 * certificate's serial and expiry, and what now uses it (`uses`); a warning
 * when the renewed certificate expires soon too.
 */
export function logRenewal(
  logger: ExpiryLogger,
  o: { spiffeId: string; certPem: string; uses: string },
  now = new Date(),
): CertificateExpiry {
  const e = certificateExpiry(o.certPem, now);
  const fields = { spiffe_id: o.spiffeId, ...expiryFields(e) };
  if (e.warn) logger.warn(fields, "renewed TLS files in force, but the certificate expires soon");
  else logger.info(fields, `renewed TLS files in force: ${o.uses}`);
  return e;
}

const expiryFields = (e: CertificateExpiry) => ({
  cert_serial: e.serial,
  not_after: e.notAfter.toISOString(),
  days_to_expiry: e.daysToExpiry,
});
