// The federation PKI. For users: createCa, issueCertificate and their types;
// the key types (ECDSA P-256 by default, Ed25519, RSA-2048); the CA state folder
// (init, open, issue, revoke, CRL); CRL build and parse; PKCS#12 keystores;
// certificate inspection.
export {
  type CaDir,
  type CaDirPaths,
  caDirPaths,
  type InitCaDirOptions,
  type IssueRequest,
  initCaDir,
  openCaDir,
  type RevokeTarget,
  writeIssued,
} from "./ca-dir.js";
export {
  type BuildCrlOptions,
  buildCrl,
  type CrlEntry,
  crlDer,
  isRevocationReason,
  type ParsedCrl,
  parseCrl,
  REVOCATION_REASONS,
  type RevocationReason,
} from "./crl.js";
export { type CrlWatcher, type CrlWatcherOptions, watchCrl } from "./crl-watcher.js";
export {
  type CertificateExpiry,
  certificateExpiry,
  EXPIRY_WARN_DAYS,
  logCertificateExpiry,
  logRenewal,
} from "./expiry.js";
export { type CertificateInfo, formatCertificateInfo, inspectCertificate } from "./inspect.js";
export {
  type CertificateAuthority,
  type CertUsage,
  type CreateCaOptions,
  type CreateIntermediateOptions,
  createCa,
  createIntermediate,
  type IssuedCertificate,
  type IssueOptions,
  issueCertificate,
} from "./issue.js";
export { DEFAULT_KEY_TYPE, isKeyType, KEY_TYPES, type KeyType } from "./key-type.js";
export { type CertificateStatus, type LedgerCertificate, statusOf } from "./ledger.js";
export { MIN_P12_PASSWORD_LENGTH, type Pkcs12Options, pkcs12 } from "./pkcs12.js";
export { type CertRole, isCertRole, PROFILES } from "./profiles.js";
