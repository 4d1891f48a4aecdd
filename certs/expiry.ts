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

export function logCertificateExpiry(
  logger: {
    info(f: Record<string, unknown>, m: string): void;
    warn(f: Record<string, unknown>, m: string): void;
  },
  pem: string,
  now = new Date(),
): CertificateExpiry {
  const e = certificateExpiry(pem, now);
  const fields = {
    cert_serial: e.serial,
    not_after: e.notAfter.toISOString(),
    days_to_expiry: e.daysToExpiry,
  };
  if (e.warn) logger.warn(fields, "own certificate expires soon: renew it (xbus certs issue --renew)");
  else logger.info(fields, "own certificate");
  return e;
}
