// @ts-check
// Every word the citizen page shows, in one place per language, so Dzongkha can be added beside English
// without touching the page's code. Plain language: the reader is a citizen, not a reviewer.

/** @typedef {typeof en} Strings */
const en = {
  title: "Who read my data",
  intro:
    "Every time a government system asked for information about you through the data exchange, it is listed " +
    "here: when, who asked, why, under which law, and what they received. Refused requests are listed too.",
  signIn: "Sign in with your national digital identity",
  signedOutIntro: "Sign in to see who read your data.",
  signOut: "Sign out",
  loading: "Loading…",
  none: "No government system has asked for information about you.",
  count: (/** @type {number} */ n) => (n === 1 ? "1 request about you." : `${n} requests about you.`),
  truncated: "Only the newest requests are shown; download them all to see more.",
  download: "Download as JSON (with proofs)",
  columns: {
    when: "When",
    who: "Who asked (agency, system)",
    service: "What they asked for",
    purpose: "Why, and the law that allows it",
    fields: "What they received",
    consent: "Your consent",
    outcome: "Outcome",
    proof: "Proof",
  },
  allowed: "Answered",
  denied: "Refused",
  noFields: "nothing",
  withheld: "withheld:",
  noConsent: "not needed",
  verify: "Verify",
  verifying: "Checking…",
  verified: "Verified: this record is in the signed log.",
  notVerified: "NOT verified:",
  notYet: "Not in a signed log head yet; try again in a few seconds.",
  proofNote:
    "“Verify” checks, in this browser, that the record is part of the exchange log the log service signed: " +
    "the record's fingerprint, the proof path and the signature are all checked here, not on the server.",
  failed: "Could not load your requests:",
  notify: "Tell me through the citizen portal when someone reads my data",
  notifySaved: (/** @type {boolean} */ on) => (on ? "You will be told." : "You will not be told."),
  disclosedLater: (/** @type {string} */ when, /** @type {string} */ order) =>
    `Shown late: a court order (${order}) let this request stay hidden from you until ${when}. ` +
    "It was in the log from the start.",
};

/** @type {Record<string, Strings>} */
const LANGUAGES = { en };

/** The strings of the page's language (`<html lang>`), English when there are none for it yet. */
export function strings() {
  return LANGUAGES[document.documentElement.lang] ?? en;
}
