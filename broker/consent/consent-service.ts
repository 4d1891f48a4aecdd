import { create } from "@bufbuild/protobuf";
import type { ServerUnaryCall } from "@grpc/grpc-js";
import type { Catalogue } from "../../core/contract/index.js";
import { parseWorkloadId } from "../../core/contract/index.js";
import type { Logger } from "../../core/index.js";
import { UUID_PATTERN, uuidv7, XbusError } from "../../core/index.js";
import type { ServiceHandlers } from "../../core/rpc/index.js";
import { peerCertificateOf } from "../../core/tls/index.js";
import type { PolicySource } from "../../policies/index.js";
import {
  type Consent,
  type ConsentGrantRequest,
  type ConsentRecord,
  ConsentRecordSchema,
} from "../../proto/gen/xbus/v1/consent_pb.js";
import { identifyPeer } from "../identity/peer-identity.js";
import type { ConsentStore } from "./consent-store.js";

export interface ConsentServiceDeps {
  store: ConsentStore;
  policy: PolicySource;
  catalogue: Catalogue;
  trustDomain: string;
  subjectIdPattern: RegExp;
  logger: Logger;
  now?: () => number;
  /** Serials revoked since connections were opened (the CRL in force). */
  isRevoked?: (serial: string) => boolean;
}

const MAX_SERVICES = 16;
const MAX_FIELDS = 64;
const MAX_VALIDITY_MS = 366 * 24 * 3600 * 1000;

// biome-ignore lint/suspicious/noExplicitAny: the call's message types differ per method; only its peer is read
type AnyCall = ServerUnaryCall<any, any>;

/**
 * xbus.v1.Consent: consent authorities named in the policy bundle record and
 * revoke citizens' consents. Everyone else is refused before any input is read.
 */
export function consentHandlers(d: ConsentServiceDeps): ServiceHandlers<typeof Consent.method> {
  const now = d.now ?? Date.now;
  const authority = (call: AnyCall): string => {
    const peer = identifyPeer(peerCertificateOf(call), d.trustDomain, d.isRevoked);
    if (!d.policy.current().consentAuthorities.has(peer.id.uri)) {
      throw new XbusError("NOT_CONSENT_AUTHORITY", `${peer.id.uri} is not a consent authority of the bundle`);
    }
    return peer.id.uri;
  };
  const existing = (id: string): ConsentRecord => {
    if (!UUID_PATTERN.test(id))
      throw new XbusError("INVALID_CONSENT_ID", "id must be a consent id the broker made", { field: "id" });
    const c = d.store.record(id);
    if (!c) throw new XbusError("CONSENT_NOT_FOUND", "no consent with this id");
    return c;
  };

  return {
    async grant(req, call) {
      const by = authority(call);
      const t = now();
      const consent = create(ConsentRecordSchema, {
        ...validGrant(req, d, t),
        id: uuidv7(t),
        grantedAt: BigInt(t),
        grantedBy: by,
      });
      await d.store.put(consent);
      d.logger.info({ consent_id: consent.id, consumer: consent.consumer, by }, "consent granted");
      return { consent };
    },
    async revoke(req, call) {
      const by = authority(call);
      const c = existing(req.id);
      if (c.revokedAt > 0n) return { consent: c };
      const revoked = create(ConsentRecordSchema, { ...c, revokedAt: BigInt(now()), revokedBy: by });
      await d.store.put(revoked);
      d.logger.info({ consent_id: c.id, by }, "consent revoked");
      return { consent: revoked };
    },
    async get(req, call) {
      authority(call);
      return { consent: existing(req.id) };
    },
    async listBySubject(req, call) {
      authority(call);
      if (!d.subjectIdPattern.test(req.subjectId))
        throw new XbusError("INVALID_SUBJECT_ID", "subject_id does not match the citizen ID format", {
          field: "subject_id",
        });
      return { consents: d.store.listBySubject(req.subjectId).sort((a, b) => a.id.localeCompare(b.id)) };
    },
  };
}

function validGrant(req: ConsentGrantRequest, d: ConsentServiceDeps, now: number) {
  const bad = (field: string, what: string) =>
    new XbusError("INVALID_REQUEST", `${field}: ${what}`, { field });
  if (!d.subjectIdPattern.test(req.subjectId))
    throw new XbusError("INVALID_SUBJECT_ID", "subject_id does not match the citizen ID format", {
      field: "subject_id",
    });
  try {
    const wid = parseWorkloadId(req.consumer);
    if (wid.trustDomain !== d.trustDomain || wid.role !== "system") throw new Error("not a system here");
  } catch {
    throw bad("consumer", `must be the SPIFFE ID of a system in ${d.trustDomain}`);
  }
  if (req.services.length === 0 || req.services.length > MAX_SERVICES)
    throw bad("services", `name 1 to ${MAX_SERVICES} services`);
  const entries = req.services.map((s) => {
    const e = d.catalogue.get(s);
    if (!e)
      throw new XbusError("UNKNOWN_SERVICE", "services: a service is not in the catalogue", {
        field: "services",
      });
    return e;
  });
  if (!d.policy.current().purposes.has(req.purpose))
    throw new XbusError("UNKNOWN_PURPOSE", "purpose is not in the purposes catalogue", { field: "purpose" });
  if (req.fields.length > MAX_FIELDS) throw bad("fields", `at most ${MAX_FIELDS} paths`);
  for (const f of req.fields) {
    if (!entries.some((e) => e.fieldPaths.has(f)))
      throw new XbusError("UNKNOWN_FIELD", "fields: a path is not a field of the services named", {
        field: "fields",
      });
  }
  const notAfter = Number(req.notAfter);
  if (!(notAfter > now) || notAfter > now + MAX_VALIDITY_MS)
    throw bad("not_after", "must be in the future and at most a year ahead (ms since the epoch)");
  return {
    subjectId: req.subjectId,
    consumer: req.consumer,
    services: [...new Set(req.services)],
    purpose: req.purpose,
    fields: [...new Set(req.fields)],
    notAfter: req.notAfter,
  };
}
