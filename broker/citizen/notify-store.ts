import Database from "better-sqlite3";

/**
 * Which citizens asked to be told of new accesses (by subject reference: the store lists no citizen
 * ID), and how far the notifier has got, in one small SQLite file: a restart neither repeats a notice
 * nor skips an access that became visible while it was down.
 */
export interface NotifyStore {
  enabled(subjectRef: string): boolean;
  set(subjectRef: string, on: boolean, now?: number): void;
  /** The first log index not yet looked at, and the instant up to which lapsed embargoes were; undefined at first start. */
  progress(): { next: number; disclosedUpTo: number } | undefined;
  saveProgress(p: { next: number; disclosedUpTo: number }): void;
  close(): void;
}

const REF = /^[0-9a-f]{64}$/;

export function openNotifyStore(path: string): NotifyStore {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.exec(`
    CREATE TABLE IF NOT EXISTS opted_in (subject_ref TEXT PRIMARY KEY, since INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS progress (id INTEGER PRIMARY KEY CHECK (id = 1), next INTEGER NOT NULL, disclosed_up_to INTEGER NOT NULL);
  `);
  const has = db.prepare<[string], { one: number }>("SELECT 1 AS one FROM opted_in WHERE subject_ref = ?");
  const add = db.prepare("INSERT OR IGNORE INTO opted_in (subject_ref, since) VALUES (?, ?)");
  const remove = db.prepare("DELETE FROM opted_in WHERE subject_ref = ?");
  const read = db.prepare<[], { next: number; disclosed_up_to: number }>(
    "SELECT next, disclosed_up_to FROM progress WHERE id = 1",
  );
  const write = db.prepare(
    "INSERT INTO progress (id, next, disclosed_up_to) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET next = excluded.next, disclosed_up_to = excluded.disclosed_up_to",
  );
  return {
    enabled: (ref) => has.get(ref) !== undefined,
    set(ref, on, now = Date.now()) {
      if (!REF.test(ref)) throw new Error("a subject reference is 64 lowercase hex digits");
      if (on) add.run(ref, now);
      else remove.run(ref);
    },
    progress() {
      const r = read.get();
      return r && { next: r.next, disclosedUpTo: r.disclosed_up_to };
    },
    saveProgress: (p) => void write.run(p.next, p.disclosedUpTo),
    close: () => db.close(),
  };
}
