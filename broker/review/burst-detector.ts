import type { ExchangeFact } from "../indexer/log-index.js";
import { AlertBuilder, type AlertJson, type AlertKind } from "./alert-builder.js";

/**
 * A sliding window over one consumer's exchanges (time-ordered): the window ending at each exchange
 * holds those less than `windowMs` older than it. When it reaches the threshold (distinct subjects, or
 * exchanges), its exchanges join an alert; windows that overlap one alert extend it rather than start
 * another, so each exchange belongs to at most one alert and no burst is missed at a clock boundary.
 * Finished alerts go to `out`; call `finish()` after the last exchange for the one still open.
 */
export class BurstDetector {
  private readonly window: { seq: number; f: ExchangeFact }[] = [];
  private head = 0;
  private seq = 0;
  private readonly perSubject = new Map<string, number>();
  private open: { builder: AlertBuilder; lastSeq: number } | undefined;

  private readonly distinct: boolean;

  constructor(
    private readonly kind: AlertKind & { summarize: (b: AlertBuilder) => string },
    private readonly threshold: number,
    private readonly windowMs: number,
    private readonly out: AlertJson[],
  ) {
    this.distinct = kind.distinct;
  }

  add(f: ExchangeFact): void {
    const seq = ++this.seq;
    this.window.push({ seq, f });
    if (this.distinct) this.perSubject.set(f.subjectRef, (this.perSubject.get(f.subjectRef) ?? 0) + 1);
    for (let oldest = this.window[this.head]; oldest && f.time - oldest.f.time >= this.windowMs; ) {
      if (this.distinct) {
        const n = (this.perSubject.get(oldest.f.subjectRef) ?? 1) - 1;
        if (n === 0) this.perSubject.delete(oldest.f.subjectRef);
        else this.perSubject.set(oldest.f.subjectRef, n);
      }
      oldest = this.window[++this.head];
    }
    if (this.head > 1024 && this.head * 2 > this.window.length) {
      this.window.splice(0, this.head);
      this.head = 0;
    }
    const size = this.distinct ? this.perSubject.size : this.window.length - this.head;
    if (size < this.threshold) return;

    const firstSeq = this.window[this.head]?.seq ?? seq;
    if (!this.open || this.open.lastSeq < firstSeq) {
      this.finish();
      const first = this.window[this.head]?.f ?? f;
      this.open = {
        builder: new AlertBuilder(this.kind, first),
        lastSeq: firstSeq - 1,
      };
    }
    // Window entries have consecutive sequence numbers: start right after the last one taken.
    for (let i = this.head + (this.open.lastSeq + 1 - firstSeq); i < this.window.length; i++) {
      const e = this.window[i];
      if (e) this.open.builder.add(e.f);
    }
    this.open.lastSeq = seq;
  }

  finish(): void {
    if (this.open) this.out.push(this.open.builder.toJson(this.kind.summarize(this.open.builder)));
    this.open = undefined;
  }
}
