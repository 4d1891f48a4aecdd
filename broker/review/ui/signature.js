// @ts-check
// A tree head's Ed25519 signature, checked in this browser as `xbus log verify` checks it (cli/log/verify.ts),
// against the log key the reviewer pinned in this tab, or else the one the server serves.

/** @import { TreeHeadJson } from "./api-types.js" */
import { fromBase64 } from "./base64.js";
import { hash32, sha256, toHex } from "./merkle.js";

/** The log's public key the reviewer pinned (base64 of the raw 32-byte Ed25519 key), this tab only. */
const PINNED_KEY = "xbus-review-log-key";
// Patterns named rather than written after `!`: happy-dom's module loader, which the UI's tests run these
// modules in, reads `!/[…/…]/` as a division and then drops the exports that follow.
/** 32 bytes in padded base64. */
const KEY_BASE64 = /^[A-Za-z0-9+/]{43}=$/;
/** 64 bytes in padded base64. */
const SIGNATURE_BASE64 = /^[A-Za-z0-9+/]{86}==$/;

/** @returns {string | null} */
export function pinnedKey() {
  return sessionStorage.getItem(PINNED_KEY);
}

/** @param {string} b64 a key `rawKey` accepts */
export function pinKey(b64) {
  sessionStorage.setItem(PINNED_KEY, b64);
}

export function unpinKey() {
  sessionStorage.removeItem(PINNED_KEY);
}

/**
 * The raw 32 bytes of an Ed25519 public key given as base64 (padded, as the API serves it and as
 * `xbus log verify --public-key` takes it); undefined for anything else.
 * @param {unknown} b64 @returns {Uint8Array<ArrayBuffer> | undefined}
 */
export function rawKey(b64) {
  if (typeof b64 !== "string" || !KEY_BASE64.test(b64)) return undefined;
  const raw = fromBase64(b64);
  return raw.length === 32 ? raw : undefined;
}

/** SHA-256 of a raw key, lowercase hex: what to compare with the fingerprint the operator publishes. @param {Uint8Array} raw */
export async function fingerprint(raw) {
  return toHex(await sha256(raw));
}

/**
 * The bytes a tree head's signature covers, exactly as `treeHeadSignedBytes` in core/merkle-hash.ts;
 * undefined when a field is not of the shape the indexer signs.
 * @param {TreeHeadJson} head
 */
function treeHeadSignedBytes(head) {
  if (
    typeof head?.log_id !== "string" ||
    !Number.isSafeInteger(head.tree_size) ||
    head.tree_size < 0 ||
    !hash32(head.root_hash) ||
    !Number.isSafeInteger(head.timestamp)
  )
    return undefined;
  return new TextEncoder().encode(
    `xbus-tree-head/v1\n${head.log_id}\n${head.tree_size}\n${head.root_hash}\n${head.timestamp}\n`,
  );
}

/**
 * A tree head's signature, checked: `state` is "ok", "bad" (the signature does not verify against that
 * key) or "unchecked" (no usable key, or a browser without Ed25519); `against` says which key in words,
 * `key` is the base64 key it was checked against.
 * @typedef {{state: "ok" | "bad" | "unchecked", pinned: boolean, against: string, key: unknown, detail: string}} SignatureCheck
 */

/**
 * Checks a tree head's Ed25519 signature here, with WebCrypto: against the pinned key when the reviewer
 * pinned one, else against the key the same server serves (which shows only that the server holds the
 * key it names).
 * @param {TreeHeadJson} head @returns {Promise<SignatureCheck>}
 */
export async function checkTreeHead(head) {
  const pinned = pinnedKey();
  const against = pinned ? "the pinned key" : "the key this server serves";
  const b64 = pinned ?? head?.public_key;
  /** @param {SignatureCheck["state"]} state @param {string} detail @returns {SignatureCheck} */
  const result = (state, detail) => ({ state, pinned: Boolean(pinned), against, key: b64, detail });
  const key = rawKey(b64);
  if (!key)
    return result(
      "unchecked",
      pinned ? "the pinned key is not 32 bytes in base64" : "the server serves no 32-byte Ed25519 key",
    );
  const bytes = treeHeadSignedBytes(head);
  if (!bytes) return result("bad", "the tree head's fields are not of the shape the log signs");
  const signature =
    typeof head.signature === "string" && SIGNATURE_BASE64.test(head.signature)
      ? fromBase64(head.signature)
      : undefined;
  if (!signature) return result("bad", "the signature is not 64 bytes in base64");
  let ok;
  try {
    const k = await crypto.subtle.importKey("raw", key, { name: "Ed25519" }, false, ["verify"]);
    ok = await crypto.subtle.verify({ name: "Ed25519" }, k, signature, bytes);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return result("unchecked", `this browser could not check an Ed25519 signature (${message})`);
  }
  return ok
    ? result(
        "ok",
        `over log ${head.log_id}, size ${head.tree_size}, root ${head.root_hash}, time ${head.timestamp}`,
      )
    : result("bad", "the signature does not verify over this head's log ID, size, root and time");
}

/** The verdict's headline for a checked tree head. @param {SignatureCheck} check */
export function treeHeadHeadline(check) {
  if (check.state === "ok") return `Tree head signed by ${check.against}`;
  if (check.state === "bad") return `Tree head NOT signed by ${check.against}`;
  return "Tree head signature could not be checked";
}
