// The federation PKI. For users: createCa, issueCertificate and their types.
export {
  type CertificateAuthority,
  type CertUsage,
  type CreateCaOptions,
  createCa,
  type IssuedCertificate,
  type IssueOptions,
  issueCertificate,
} from "./issue.js";
