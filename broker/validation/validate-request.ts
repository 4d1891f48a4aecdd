import type { Catalogue, CatalogueService } from "../../core/contract/index.js";
import { parseServiceName } from "../../core/contract/index.js";
import { XbusError } from "../../core/index.js";
import type { FetchRequest } from "../../proto/gen/xbus/v1/exchange_pb.js";

export interface ValidationRules {
  catalogue: Catalogue;
  /** Purposes of the policy bundle in force. */
  purposes: ReadonlySet<string> | ReadonlyMap<string, unknown>;
  /** The trust domain's citizen ID format; in gov.bt, 11 digits. */
  subjectIdPattern: RegExp;
}

export interface ValidFetch {
  readonly service: CatalogueService;
  readonly subjectId: string;
  readonly purpose: string;
  /** Deduplicated, in request order. */
  readonly fields: readonly string[];
  readonly consentId: string;
  readonly requestId: string;
  /** "" when the request names none. */
  readonly legalOrderRef: string;
}

export const LIMITS = {
  fields: 64,
  fieldPath: 128,
  consentId: 128,
  requestId: 128,
  legalOrderRef: 128,
  purpose: 64,
} as const;

const PURPOSE = /^[a-z][a-z0-9-]{0,63}$/;
/** Consent and request ids are opaque to us but bounded and printable. */
const OPAQUE_ID = /^[A-Za-z0-9._:-]+$/;
/** A court's or prosecutor's reference, as written on the order: slashes too (`CR/2026/1234`). */
const LEGAL_ORDER_REF = /^[A-Za-z0-9._:/-]+$/;

function preview(v: string): string {
  return JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}…` : v);
}

/**
 * DESIGN step 2. Checks every field of a FetchRequest before policy sees it;
 * the first problem found is thrown as INVALID_ARGUMENT naming the field.
 * The subject ID is never echoed back: it is a citizen's identifier.
 */
export function validateFetch(req: FetchRequest, rules: ValidationRules): ValidFetch {
  const name = parseServiceName(req.service, "service");
  const service = rules.catalogue.get(name.full);
  if (!service)
    throw new XbusError("UNKNOWN_SERVICE", `service ${preview(req.service)} is not in the catalogue`, {
      field: "service",
    });

  if (!rules.subjectIdPattern.test(req.subjectId)) {
    throw new XbusError(
      "INVALID_SUBJECT_ID",
      `subject_id does not match the citizen ID format ${rules.subjectIdPattern.source}`,
      {
        field: "subject_id",
      },
    );
  }

  if (req.purpose.length === 0)
    throw new XbusError("UNKNOWN_PURPOSE", "purpose is required", { field: "purpose" });
  if (!PURPOSE.test(req.purpose) || !rules.purposes.has(req.purpose)) {
    throw new XbusError(
      "UNKNOWN_PURPOSE",
      `purpose ${preview(req.purpose)} is not in the purposes catalogue`,
      {
        field: "purpose",
      },
    );
  }

  if (req.fields.length > LIMITS.fields) {
    throw new XbusError("INVALID_FIELD", `fields: at most ${LIMITS.fields} paths`, { field: "fields" });
  }
  const fields: string[] = [];
  for (const path of req.fields) {
    if (path.length === 0 || path.length > LIMITS.fieldPath) {
      throw new XbusError("INVALID_FIELD", `fields: each path must be 1 to ${LIMITS.fieldPath} characters`, {
        field: "fields",
      });
    }
    if (!service.fieldPaths.has(path)) {
      throw new XbusError(
        "UNKNOWN_FIELD",
        `fields: ${preview(path)} is not a field of ${service.recordType.typeName}`,
        {
          field: "fields",
        },
      );
    }
    if (!fields.includes(path)) fields.push(path);
  }

  checkOpaque(req.consentId, "consent_id", LIMITS.consentId, "INVALID_CONSENT_ID");
  checkOpaque(req.requestId, "request_id", LIMITS.requestId, "INVALID_REQUEST_ID");
  const legalOrderRef = req.legalOrderRef;
  if (
    legalOrderRef.length > 0 &&
    (legalOrderRef.length > LIMITS.legalOrderRef || !LEGAL_ORDER_REF.test(legalOrderRef))
  ) {
    throw new XbusError(
      "INVALID_LEGAL_ORDER_REF",
      `legal_order_ref must be at most ${LIMITS.legalOrderRef} characters of letters, digits and . _ : / -`,
      { field: "legal_order_ref" },
    );
  }
  return {
    service,
    subjectId: req.subjectId,
    purpose: req.purpose,
    fields,
    consentId: req.consentId,
    requestId: req.requestId,
    legalOrderRef,
  };
}

function checkOpaque(
  value: string,
  field: string,
  max: number,
  reason: "INVALID_CONSENT_ID" | "INVALID_REQUEST_ID",
) {
  if (value.length === 0) return;
  if (value.length > max || !OPAQUE_ID.test(value)) {
    throw new XbusError(reason, `${field} must be at most ${max} characters of letters, digits and . _ : -`, {
      field,
    });
  }
}
