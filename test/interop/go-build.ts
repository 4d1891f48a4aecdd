import { execFile, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

/** Where Debian's golang-golang-x-mod-dev puts golang.org/x/mod (a GOPATH tree). */
export const DEBIAN_GOPATH = "/usr/share/gocode";
export const GO_PACKAGES = "apt-get install golang-go golang-golang-x-mod-dev";

/**
 * Builds test/interop/tlogcheck.go into `dir` with Debian's Go and x/mod, offline (GOPATH mode: no
 * module download). Throws naming the apt-get line when Go or x/mod is missing: the interop test must
 * fail, never skip, without them.
 */
export function buildTlogcheck(dir: string): Promise<string> {
  return buildGo(dir, "tlogcheck.go", "tlogcheck");
}

/** Builds test/interop/tilecheck/tilecheck.go (Go's tile reader over our /tile routes) into `dir`, as buildTlogcheck. */
export function buildTilecheck(dir: string): Promise<string> {
  return buildGo(dir, "tilecheck/tilecheck.go", "tilecheck");
}

async function buildGo(dir: string, source: string, name: string): Promise<string> {
  const go = spawnSync("go", ["version"]);
  if (go.error || go.status !== 0) throw new Error(`no \`go\` on PATH: run \`${GO_PACKAGES}\``);
  if (!existsSync(join(DEBIAN_GOPATH, "src/golang.org/x/mod/sumdb/note")))
    throw new Error(`no golang.org/x/mod under ${DEBIAN_GOPATH}: run \`${GO_PACKAGES}\``);
  const out = join(dir, name);
  await promisify(execFile)("go", ["build", "-o", out, join(import.meta.dirname, source)], {
    env: {
      ...process.env,
      GO111MODULE: "off",
      GOPATH: DEBIAN_GOPATH,
      GOFLAGS: "",
      GOCACHE: join(dir, "gocache"),
      GOPROXY: "off",
    },
  });
  return out;
}

/** Runs a built checker; resolves to its exit code and output (it prints "ok …" or "FAIL: …"). */
export async function tlogcheck(
  bin: string,
  args:
    | [vkey: string, proofFile: string, leafHashHex: string]
    | [vkey: string, url: string]
    | [vkey: string, url: string, earlierSize: string, earlierRootBase64: string],
): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await promisify(execFile)(bin, args);
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string };
    return { code: typeof e.code === "number" ? e.code : -1, out: e.stdout ?? "" };
  }
}
