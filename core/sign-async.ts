import { type KeyObject, sign, verify } from "node:crypto";

/*
 * Ed25519 signing and verification on libuv's thread pool instead of the
 * event loop. Each exchange costs three signatures and one verification
 * (route, reply, receipt): ~175 µs of a busy broker's only thread when done
 * inline, a few µs when handed to the pool, where they run on an idle core.
 * The bytes are the same as the synchronous calls'; only where they run moves.
 */

/** Ed25519 (no digest) signature of `data`, made off the event loop. */
export function signEd25519(data: Uint8Array, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    sign(null, data, key, (err, signature) => (err ? reject(err) : resolve(signature))),
  );
}

/** True when `signature` is `key`'s Ed25519 signature over `data`; checked off the event loop. */
export function verifyEd25519(data: Uint8Array, key: KeyObject, signature: Uint8Array): Promise<boolean> {
  return new Promise((resolve, reject) =>
    verify(null, data, key, signature, (err, ok) => (err ? reject(err) : resolve(ok))),
  );
}
