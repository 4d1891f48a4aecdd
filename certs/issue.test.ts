import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createCa, issueCertificate } from "./index.js";

describe("certs", () => {
  const ca = createCa({ trustDomain: "gov.bt" });
  const caX509 = new X509Certificate(ca.certPem);

  it("makes a CA and a client certificate carrying the SPIFFE ID", () => {
    expect(caX509.ca).toBe(true);
    const c = issueCertificate(ca, {
      spiffeId: "spiffe://gov.bt/agency/moe/system/scholarships",
      commonName: "moe scholarships",
      usage: "client",
      validityDays: 30,
    });
    const x = new X509Certificate(c.certPem);
    expect(x.verify(caX509.publicKey)).toBe(true);
    expect(x.ca).toBe(false);
    expect(x.subjectAltName).toBe("URI:spiffe://gov.bt/agency/moe/system/scholarships");
    expect(x.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]);
    expect(x.serialNumber.toUpperCase()).toBe(c.serial);
    const days = (new Date(x.validTo).getTime() - Date.now()) / 86_400_000;
    expect(Math.round(days)).toBe(30);
  });

  it("makes server certificates with DNS and IP names", () => {
    const c = issueCertificate(ca, {
      commonName: "broker",
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1"],
      usage: "server",
    });
    const x = new X509Certificate(c.certPem);
    expect(x.subjectAltName).toBe("DNS:localhost, IP Address:127.0.0.1");
    expect(x.checkHost("localhost")).toBe("localhost");
    expect(x.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]);
  });

  it("refuses a SPIFFE ID outside the trust domain, and a malformed one", () => {
    expect(() =>
      issueCertificate(ca, {
        spiffeId: "spiffe://other.org/agency/moe/system/x",
        commonName: "x",
        usage: "client",
      }),
    ).toThrow(/outside the CA's trust domain gov.bt/);
    expect(() =>
      issueCertificate(ca, { spiffeId: "spiffe://gov.bt/agency/moe/x", commonName: "x", usage: "client" }),
    ).toThrow(/malformed SPIFFE ID/);
  });

  it("refuses a validity that outlives the CA", () => {
    expect(() => issueCertificate(ca, { commonName: "x", usage: "client", validityDays: 365 * 20 })).toThrow(
      /after the CA's own/,
    );
  });
});
