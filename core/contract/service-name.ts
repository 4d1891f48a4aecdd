import { XbusError } from "../errors.js";
import { SEGMENT } from "./spiffe-id.js";

/** A service is `<agency>.<name>`; both parts are lowercase letters, digits and dashes. */
export interface ServiceName {
  readonly agency: string;
  readonly name: string;
  /** `<agency>.<name>`, exactly as validated. */
  readonly full: string;
}

/**
 * Parses a service name strictly. Because each part matches SEGMENT, the
 * result can never hold a NATS wildcard (`*`, `>`), an extra token separator
 * (`.`), whitespace or a control character: it is safe to build a subject from.
 */
export function parseServiceName(value: string, field = "service"): ServiceName {
  const shown = JSON.stringify(value.slice(0, 100));
  if (value.length === 0) throw new XbusError("INVALID_SERVICE", `${field} is required`, { field });
  if (value.length > 128)
    throw new XbusError("INVALID_SERVICE", `${field} is longer than 128 characters`, { field });
  const parts = value.split(".");
  const [agency, name] = parts;
  if (parts.length !== 2 || agency === undefined || name === undefined) {
    throw new XbusError("INVALID_SERVICE", `${field} ${shown} must be <agency>.<name>`, { field });
  }
  if (!SEGMENT.test(agency) || !SEGMENT.test(name)) {
    throw new XbusError(
      "INVALID_SERVICE",
      `${field} ${shown}: agency and name must be lowercase letters, digits and dashes, starting with a letter`,
      { field },
    );
  }
  return { agency, name, full: value };
}

export function isAgencyName(value: string): boolean {
  return SEGMENT.test(value);
}
