// The first module of a worker thread that startWorker (ts-worker.ts) starts from the TypeScript
// sources: registers tsx in this thread, since a worker does not inherit its parent's loader, then
// loads the entry, whose URL is the last argument. (Newer Node versions, 22.22.3 / 24.11.1 on, carry
// `--import tsx` into workers too; there tsx would be registered twice in the worker.)
import { register } from "tsx/esm/api";

register();
await import(process.argv[process.argv.length - 1]);
