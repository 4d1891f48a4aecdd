import { createSecureContext, type SecureContextOptions } from "node:tls";
import { ServerCredentials } from "@grpc/grpc-js";

/**
 * grpc-js server credentials whose TLS context can be replaced while the
 * server runs: a new CRL, a renewed certificate and key, a trust bundle with
 * a second CA. grpc-js's createSsl takes no CRL and cannot be updated; this
 * subclass uses the hook its certificate providers use. New connections get
 * the new context; connections already open keep theirs, which is why the
 * broker also checks revocation on every call.
 */
export class ReloadableServerCredentials extends ServerCredentials {
  constructor(options: SecureContextOptions) {
    // Checked here so a bad start fails loudly instead of grpc-js dropping every connection.
    createSecureContext(options);
    super({ requestCert: true, rejectUnauthorized: true }, options);
  }

  /**
   * Swaps the context for new connections. Throws, and keeps the old one, if
   * the new options do not make a context: grpc-js would otherwise refuse
   * every connection until the next good update.
   */
  update(options: SecureContextOptions): void {
    createSecureContext(options);
    this.updateSecureContextOptions(options);
  }

  override _equals(other: ServerCredentials): boolean {
    return this === other;
  }
}
