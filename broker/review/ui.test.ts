import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Decision } from "../../proto/gen/xbus/v1/log_pb.js";
import { writeTestLogIndex } from "../../test/helpers/log-index.js";
import { UI_CONTENT_SECURITY_POLICY } from "./app.js";
import { loadUiAssets, UI_FILES, uiDirCandidates, VENDOR_FILES } from "./ui-assets.js";

const TOKEN = "ui-test-token-0123456789abcdef";
const SECRET = randomBytes(32);
const log = writeTestLogIndex([
  {
    exchangeId: randomUUID(),
    time: BigInt(Date.UTC(2025, 6, 9)),
    consumer: "spiffe://gov.bt/agency/moh/system/ehr",
    service: "dcrc.citizen-record",
    purpose: "treatment",
    decision: Decision.ALLOW,
    status: "OK",
  },
]);
afterAll(() => log.close());
const app = log.reviewApp({ token: TOKEN, logSecret: SECRET });

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

describe("the review UI's files", () => {
  it.each([
    ["/ui", "text/html; charset=utf-8", '<script type="module" src="/ui/app.js">'],
    ["/ui/", "text/html; charset=utf-8", '<link rel="stylesheet" href="/ui/app.css"'],
    ["/ui/app.js", "text/javascript; charset=utf-8", 'from "./tree-head-view.js"'],
    ["/ui/merkle.js", "text/javascript; charset=utf-8", "crypto.subtle.digest"],
    ["/ui/app.css", "text/css; charset=utf-8", "table"],
  ])("GET %s answers %s with the strict headers, without a token", async (path, type, holds) => {
    const res = await app.request(path);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe(type);
    expect(res.headers.get("content-security-policy")).toBe(CSP);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.text()).toContain(holds);
  });

  it("serves every module of the page, each as a script with the same headers", async () => {
    for (const name of UI_FILES.filter((f) => f.endsWith(".js"))) {
      const res = await app.request(`/ui/${name}`);
      expect(res.status, name).toBe(200);
      expect(res.headers.get("content-type"), name).toBe("text/javascript; charset=utf-8");
      expect(res.headers.get("content-security-policy"), name).toBe(CSP);
      expect(await res.text(), name).toMatch(/^\/\/ @ts-check\n/);
    }
  });

  it("serves the vendored uPlot from its package, as a module and a stylesheet, with the same headers", async () => {
    const installed = JSON.parse(
      readFileSync(join(import.meta.dirname, "..", "..", "node_modules", "uplot", "package.json"), "utf8"),
    ) as { version: string };
    const pinned = JSON.parse(
      readFileSync(join(import.meta.dirname, "..", "..", "package.json"), "utf8"),
    ) as {
      dependencies: Record<string, string>;
    };
    expect(installed.version).toBe(pinned.dependencies.uplot);
    expect(Object.keys(VENDOR_FILES)).toEqual(["uplot.js", "uplot.css"]);
    const js = await app.request("/ui/vendor/uplot.js");
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("content-security-policy")).toBe(CSP);
    const text = await js.text();
    expect(text).toContain("export { uPlot as default };");
    // Like the page's own modules: nothing parsed as HTML, nothing evaluated, no style attribute written
    // (its styles are set through CSSOM, el.style.x = …, which style-src does not govern).
    expect(text).not.toMatch(
      /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function|setAttribute\(\s*["']style/,
    );
    const css = await app.request("/ui/vendor/uplot.css");
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect(css.headers.get("content-security-policy")).toBe(CSP);
    expect(await css.text()).toContain(".uplot");
    expect((await app.request("/ui/vendor/uPlot.esm.js")).status).toBe(404);
    expect((await app.request("/ui/vendor/uplot.d.ts")).status).toBe(404);
  });

  it("exports the policy it sends, with no 'unsafe-inline' anywhere", () => {
    expect(UI_CONTENT_SECURITY_POLICY).toBe(CSP);
    expect(CSP).not.toContain("unsafe");
  });

  it("the page holds no inline script, style or event handler, so the policy costs it nothing", async () => {
    const html = await (await app.request("/ui")).text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    for (const script of ["/ui/app.js", "/ui/merkle.js"]) {
      const js = await (await app.request(script)).text();
      expect(js, script).not.toMatch(
        /innerHTML|outerHTML|insertAdjacentHTML|document\.write|localStorage|eval\(/,
      );
    }
  });

  it("still demands the token on every data endpoint", async () => {
    for (const path of [
      "/v1/log/tree-head",
      "/v1/exchanges",
      `/v1/exchanges/${randomUUID()}`,
      "/v1/subjects/10000000001/accesses",
      "/v1/alerts",
      "/v1/stats/exchanges",
      "/v1/log/entries?start=0&limit=1",
    ]) {
      const res = await app.request(path);
      expect(res.status, path).toBe(401);
      expect(res.headers.get("www-authenticate"), path).toBe('Bearer realm="xbus-review"');
    }
  });

  it("answers the browser's own /favicon.ico with no content rather than an error", async () => {
    const res = await app.request("/favicon.ico");
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
    expect(res.headers.get("content-security-policy")).toBe(CSP);
  });

  it("serves nothing else under /ui", async () => {
    expect((await app.request("/ui/../v1/log/tree-head")).status).not.toBe(200);
    expect((await app.request("/ui/index.html")).status).toBe(404);
    expect((await app.request("/ui/app.ts")).status).toBe(404);
    expect((await app.request("/ui/merkle.d.ts")).status).toBe(404);
    expect((await app.request("/ui/merkle.test.ts")).status).toBe(404);
  });
});

describe("finding the UI's files", () => {
  it("from the sources beside the module, and from dist/broker/review/ back in the sources", () => {
    const sources = join(import.meta.dirname, "ui");
    expect(uiDirCandidates()[0]).toBe(sources);
    const dist = join(import.meta.dirname, "..", "..", "dist", "broker", "review");
    expect(uiDirCandidates(dist)).toContain(sources);
    expect(loadUiAssets(uiDirCandidates(dist)).modules["merkle.js"]).toContain("rootsFromConsistency");
  });

  it("refuses to start, naming the file, when one is missing", () => {
    const dir = mkdtempSync(join(tmpdir(), "xbus-ui-"));
    try {
      expect(() => loadUiAssets([dir])).toThrow(/index\.html not found in/);
      writeFileSync(join(dir, "index.html"), "<!doctype html>");
      writeFileSync(join(dir, "app.js"), "");
      expect(() => loadUiAssets([dir])).toThrow(`review UI: ${join(dir, "merkle.js")} is missing`);
      writeFileSync(join(dir, "merkle.js"), "");
      expect(() => loadUiAssets([dir])).toThrow(`review UI: ${join(dir, "app.css")} is missing`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
