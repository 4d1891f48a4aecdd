import { randomFillSync } from "node:crypto";

/*
 * Random bytes are drawn from the CSPRNG 4 KB at a time: one call per ~400 ids
 * instead of one each (a call costs ~5 µs, as much as the rest of the id).
 * Each byte of the pool is used once.
 */
const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let poolAt = POOL_BYTES;

/**
 * A UUIDv7 (RFC 9562): time-ordered, so exchange ids sort by when they began,
 * with 74 random bits so they cannot be guessed.
 */
export function uuidv7(now = Date.now()): string {
  if (poolAt + 10 > POOL_BYTES) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const b = Buffer.allocUnsafe(16);
  pool.copy(b, 6, poolAt, poolAt + 10);
  poolAt += 10;
  b.writeUIntBE(now, 0, 6);
  b[6] = 0x70 | ((b[6] ?? 0) & 0x0f);
  b[8] = 0x80 | ((b[8] ?? 0) & 0x3f);
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
