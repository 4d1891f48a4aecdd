/**
 * The federation's contract as code: the record catalogue (from proto/), service names, SPIFFE IDs.
 */

export type { CatalogueService } from "./catalogue.js";
export { Catalogue, fieldPathsOf } from "./catalogue.js";
export type { ServiceName } from "./service-name.js";
export { isAgencyName, parseServiceName } from "./service-name.js";
export type { AgencyRole, FederationRole, Role, WorkloadId } from "./spiffe-id.js";
export { formatWorkloadId, parseWorkloadId, SEGMENT, spiffeIdsFromSubjectAltName } from "./spiffe-id.js";
