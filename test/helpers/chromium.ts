import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";

/** Debian's Chromium; XBUS_CHROMIUM names another build of it. Playwright never downloads one here. */
export const CHROMIUM_PATH = process.env.XBUS_CHROMIUM ?? "/usr/bin/chromium";

/**
 * Flags of a quiet, offline browser: root needs --no-sandbox, and the rest keep Chromium from calling
 * home (updates, sync, QUIC probes), so the only network a test sees is its own loopback servers.
 */
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface TestBrowser {
  readonly context: BrowserContext;
  /** A new tab that records every Content-Security-Policy violation and console error it sees. */
  page(): Promise<TestPage>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface TestPage {
  readonly page: Page;
  /** `securitypolicyviolation` events (directive and blocked URI) and console lines that name the CSP. */
  readonly cspViolations: string[];
  readonly consoleErrors: string[];
}

/** Headless Chromium with a new, empty profile folder, removed on close. */
export async function launchChromium(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM_PATH))
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}: install it with \`apt-get install -y chromium\` (or set XBUS_CHROMIUM)`,
    );
  const profile = mkdtempSync(join(tmpdir(), "xbus-chromium-"));
  const context = await chromium
    .launchPersistentContext(profile, { executablePath: CHROMIUM_PATH, headless: true, args: ARGS })
    .catch((err: unknown) => {
      rmSync(profile, { recursive: true, force: true });
      throw err;
    });
  // A string (the tests compile without the DOM's types), injected by the DevTools protocol before any page script, so the page's own CSP does not block it.
  await context.addInitScript({
    content:
      "window.__csp = []; document.addEventListener('securitypolicyviolation', " +
      "(e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));",
  });
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return {
    context,
    async page() {
      const page = await context.newPage();
      // Shorter than the test's own timeout, so a step that never happens fails naming itself.
      page.setDefaultTimeout(10_000);
      const cspViolations: string[] = [];
      const consoleErrors: string[] = [];
      page.on("console", (m) => {
        if (/content security policy/i.test(m.text())) cspViolations.push(m.text());
        if (m.type() === "error") consoleErrors.push(m.text());
      });
      page.on("pageerror", (e) => consoleErrors.push(String(e)));
      return { page, cspViolations, consoleErrors };
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** The violations the page's own listener saw (events do not reach the console when nothing logs them). */
export async function pageCspViolations(page: Page): Promise<string[]> {
  return page.evaluate<string[]>("window.__csp");
}
