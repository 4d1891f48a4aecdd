import { createHash, type KeyObject, sign } from "node:crypto";

/**
 * C2SP signed-note (c2sp.org/signed-note): a text ending in a newline, a blank line, then signature
 * lines `— <key name> base64(key ID ‖ signature)`. The format only: signing a text with an Ed25519
 * key, parsing a note strictly, and the key IDs and verifier keys (vkeys) both sides compute. Which
 * signatures to trust is the verifier's business (verifier/checkpoint.ts), never this file's.
 */

/** Signature type bytes of signed-note: a log's Ed25519 note signature, a witness's cosignature/v1. */
export const SIG_ED25519 = 0x01;
export const SIG_COSIGNATURE_V1 = 0x04;

/** Whoever reads a note stops after this many signature lines (the spec asks to accept at least 16). */
export const MAX_NOTE_SIGNATURES = 64;

const EM_DASH = "\u2014";
/** Key names: non-empty, no Unicode spaces and no plus. */
const KEY_NAME = /^[^\s+\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/u;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export interface NoteSignature {
  name: string;
  /** The 4-byte key ID. */
  keyId: Buffer;
  /** The bytes after the key ID: a bare Ed25519 signature, or a cosignature's timestamp ‖ signature. */
  signature: Buffer;
}

export interface Note {
  /** The signed text, with its final newline. */
  text: string;
  signatures: NoteSignature[];
}

export function isKeyName(name: string): boolean {
  return KEY_NAME.test(name);
}

/** SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4], as signed-note recommends and tlog-cosignature requires. */
export function noteKeyId(name: string, type: number, rawPublicKey: Uint8Array): Buffer {
  return createHash("sha256")
    .update(name)
    .update(Buffer.from([0x0a, type]))
    .update(rawPublicKey)
    .digest()
    .subarray(0, 4);
}

/** `<name>+<hex key ID>+base64(type ‖ public key)`: how a verifier is told which key to trust. */
export function encodeVkey(name: string, type: number, rawPublicKey: Uint8Array): string {
  if (!isKeyName(name)) throw new Error(`a key name must be non-empty, without spaces or "+": ${name}`);
  const id = noteKeyId(name, type, rawPublicKey).toString("hex");
  return `${name}+${id}+${Buffer.concat([Buffer.from([type]), rawPublicKey]).toString("base64")}`;
}

export interface Vkey {
  name: string;
  keyId: Buffer;
  type: number;
  /** The raw public key (32 bytes for both Ed25519 types). */
  key: Buffer;
}

/** Parses a vkey; throws naming what is wrong. Ed25519 types must carry 32 bytes and the key ID they imply. */
export function parseVkey(vkey: string): Vkey {
  // The base64 part may itself hold "+": only the first two separate.
  const m = /^([^+]*)\+([^+]*)\+(.*)$/s.exec(vkey);
  if (!m) throw new Error(`not a verifier key (name+keyid+base64): ${JSON.stringify(vkey)}`);
  const [, name = "", hexId = "", b64 = ""] = m;
  if (!isKeyName(name)) throw new Error(`verifier key: bad key name ${JSON.stringify(name)}`);
  if (!/^[0-9a-f]{8}$/.test(hexId)) throw new Error("verifier key: the key ID is not 8 lowercase hex digits");
  if (!BASE64.test(b64) || b64 === "") throw new Error("verifier key: the key is not base64");
  const raw = Buffer.from(b64, "base64");
  const type = raw[0] as number;
  const key = raw.subarray(1);
  if ((type === SIG_ED25519 || type === SIG_COSIGNATURE_V1) && key.length !== 32)
    throw new Error(`verifier key: an Ed25519 key is 32 bytes, this one ${key.length}`);
  const keyId = Buffer.from(hexId, "hex");
  if (!keyId.equals(noteKeyId(name, type, key)))
    throw new Error("verifier key: the key ID does not match the name and key");
  return { name, keyId, type, key };
}

/** One signature line, with its newline. */
export function signatureLine(name: string, keyId: Uint8Array, signature: Uint8Array): string {
  return `${EM_DASH} ${name} ${Buffer.concat([keyId, signature]).toString("base64")}\n`;
}

/** Signs `text` (ending in a newline) with an Ed25519 key under `name`: the whole note. */
export function signNote(
  text: string,
  name: string,
  privateKey: KeyObject,
  rawPublicKey: Uint8Array,
): string {
  checkText(text);
  const sig = sign(null, Buffer.from(text), privateKey);
  return `${text}\n${signatureLine(name, noteKeyId(name, SIG_ED25519, rawPublicKey), sig)}`;
}

/**
 * Splits a note into its text and signature lines, refusing anything signed-note does not allow:
 * control characters, no blank line, a malformed signature line, too many signatures. The text is
 * everything up to the last blank line. Throws naming the problem.
 */
export function parseNote(note: string): Note {
  if (note.length > 1 << 20) throw new Error("the note is larger than 1 MiB");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the spec forbids exactly these
  if (/[\u0000-\u0009\u000b-\u001f]/.test(note)) throw new Error("the note holds a control character");
  if (!note.endsWith("\n")) throw new Error("the note does not end in a newline");
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new Error("the note has no blank line before its signatures");
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split("\n");
  if (lines.length > MAX_NOTE_SIGNATURES)
    throw new Error(`the note has over ${MAX_NOTE_SIGNATURES} signatures`);
  const signatures = lines.map((line, i) => parseSignatureLine(line, i + 1));
  return { text, signatures };
}

/** One signature line, without its newline. */
export function parseSignatureLine(line: string, n = 1): NoteSignature {
  const m = /^\u2014 (\S+) (\S+)$/u.exec(line);
  if (!m) throw new Error(`signature line ${n} is not "— <name> <base64>"`);
  const [, name = "", b64 = ""] = m;
  if (!isKeyName(name)) throw new Error(`signature line ${n}: bad key name`);
  if (!BASE64.test(b64)) throw new Error(`signature line ${n}: the signature is not base64`);
  const raw = Buffer.from(b64, "base64");
  if (raw.length < 5) throw new Error(`signature line ${n}: too short to hold a key ID and a signature`);
  return { name, keyId: raw.subarray(0, 4), signature: raw.subarray(4) };
}

function checkText(text: string): void {
  if (!text.endsWith("\n")) throw new Error("a note's text ends in a newline");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the spec forbids exactly these
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text)) throw new Error("a note's text holds no control characters");
}
