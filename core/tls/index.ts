/**
 * TLS files and peer certificates: reading a process's own identity, and the SPIFFE ID of whoever called.
 */

export type { Identity, TlsFile } from "./own-identity.js";
export { checkIdentity, checkOwnTls, keepsIdentity, pemCertificates } from "./own-identity.js";
export type { AuthCall } from "./peer-certificate.js";
export { peerCertificateOf, peerSessionOf } from "./peer-certificate.js";
export { ReloadableServerCredentials } from "./server-credentials.js";
export type { TlsFilePaths, TlsFilesOptions, TlsFilesWatcher, TlsPem } from "./tls-files.js";
export { watchTlsFiles } from "./tls-files.js";
