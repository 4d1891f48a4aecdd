// @ts-check

/** The bytes of standard base64 (the API's leaves, keys and signatures). @param {string} b64 */
export function fromBase64(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
