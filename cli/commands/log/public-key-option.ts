import { InvalidArgumentError, Option } from "commander";
import { isRawKeyBase64 } from "../../../verifier/index.js";

/** --public-key, refused unless it is what the API serves as public_key: base64 of the raw 32-byte key. */
export function publicKeyOption(description: string): Option {
  return new Option("--public-key <b64>", description).argParser((v: string) => {
    if (!isRawKeyBase64(v))
      throw new InvalidArgumentError(
        "--public-key must be base64 of the log's raw 32-byte Ed25519 key, as the tree head's public_key",
      );
    return v;
  });
}
