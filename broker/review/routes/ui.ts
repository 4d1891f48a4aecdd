import { Hono } from "hono";
import type { UiAssets } from "../ui-assets.js";

/**
 * The review UI's page carries no inline script or style, so it can forbid both: data shown on it can
 * never run as code, and it talks to no origin but this one. `script-src 'self'` is what its module
 * scripts need, imports between them included.
 */
export const UI_CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const UI_HEADERS = {
  "content-security-policy": UI_CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

/**
 * The UI's files. They hold no data, so they need no token; every data call from the page goes to /v1/*.
 * Only the files `assets` lists are routed, each by its own name: nothing is looked up from a path.
 */
export function uiRoutes(assets: UiAssets): Hono {
  const file = (body: string, type: string) => () =>
    new Response(body, { status: 200, headers: { ...UI_HEADERS, "content-type": type } });
  const html = file(assets.html, "text/html; charset=utf-8");
  const app = new Hono()
    .get("/ui", html)
    .get("/ui/", html)
    .get("/ui/app.css", file(assets.css, "text/css; charset=utf-8"))
    // Browsers ask for it by themselves; "no icon" is an answer, where a 404 shows as an error in the console.
    .get("/favicon.ico", () => new Response(null, { status: 204, headers: UI_HEADERS }));
  for (const [name, text] of Object.entries(assets.modules))
    app.get(`/ui/${name}`, file(text, "text/javascript; charset=utf-8"));
  for (const [name, text] of Object.entries(assets.vendor))
    app.get(
      `/ui/vendor/${name}`,
      file(text, name.endsWith(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8"),
    );
  return app;
}
