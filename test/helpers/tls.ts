import { connect } from "node:tls";

/**
 * The serial (upper-case hex) of the certificate a gRPC server at `address`
 * (host:port) shows a new TLS connection: how tests see which certificate a
 * server has put in force.
 */
export function serverCertificateSerial(
  address: string,
  client: { ca: string; cert: string; key: string },
): Promise<string> {
  const cut = address.lastIndexOf(":");
  return new Promise((resolve, reject) => {
    const s = connect(
      { host: address.slice(0, cut), port: Number(address.slice(cut + 1)), ...client, ALPNProtocols: ["h2"] },
      () => {
        const serial = s.getPeerCertificate().serialNumber.toUpperCase();
        s.destroy();
        resolve(serial);
      },
    );
    s.on("error", reject);
  });
}
