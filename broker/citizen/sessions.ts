import { randomBytes } from "node:crypto";

/**
 * Signed-in citizens and sign-ins under way, in memory: the browser holds only a random id (in a signed
 * cookie), so the citizen ID never travels in a cookie and signing out ends the session here. Bounded:
 * the oldest entry goes first when full, and entries expire.
 */
export class ExpiringStore<T> {
  readonly #entries = new Map<string, { value: T; expires: number }>();
  constructor(
    private readonly ttlMs: number,
    private readonly max: number,
    private readonly now: () => number = Date.now,
  ) {}

  add(value: T): string {
    const id = randomBytes(24).toString("base64url");
    if (this.#entries.size >= this.max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(id, { value, expires: this.now() + this.ttlMs });
    return id;
  }

  get(id: string | undefined): T | undefined {
    if (id === undefined) return undefined;
    const e = this.#entries.get(id);
    if (!e) return undefined;
    if (e.expires <= this.now()) {
      this.#entries.delete(id);
      return undefined;
    }
    return e.value;
  }

  /** Returns the value once and forgets it (a sign-in's state can be redeemed only once). */
  take(id: string | undefined): T | undefined {
    const v = this.get(id);
    if (id !== undefined) this.#entries.delete(id);
    return v;
  }

  delete(id: string | undefined): void {
    if (id !== undefined) this.#entries.delete(id);
  }
}
