// Screenshots of the review UI and the citizen page for docs/ (issue 21), made from a real stack in real
// Chromium, never by hand: `npx tsx test/docs-screenshots.ts`. Writes docs/review-ui.png (the tree head),
// docs/review-charts.png (the charts) and docs/citizen-page.png.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { credentials } from "@grpc/grpc-js";
import { scholarshipApplicant } from "../adapters/examples/journeys/applicants.js";
import { scholarshipApplication } from "../adapters/examples/journeys/scholarship.js";
import { createLogger } from "../core/index.js";
import { createServiceClient } from "../core/rpc/index.js";
import { Exchange } from "../proto/gen/xbus/v1/exchange_pb.js";
import { startStack } from "../stack/index.js";
import { launchChromium } from "../test/helpers/chromium.js";

const docs = resolve(import.meta.dirname, "..", "docs");
const dir = mkdtempSync(join(tmpdir(), "xbus-screenshots-"));
const stack = await startStack({ dir, citizenPage: true, logger: createLogger({}, "warn") });
const browser = await launchChromium();
try {
  const client = createServiceClient(
    Exchange,
    stack.brokerAddress,
    credentials.createSsl(
      Buffer.from(stack.ca.certPem),
      Buffer.from(stack.consumer.key),
      Buffer.from(stack.consumer.cert),
    ),
  );
  const applicant = scholarshipApplicant(stack.population) ?? "";
  await scholarshipApplication(client as never, applicant);
  // A request the policy refuses (a scholarship office may not read medical fitness), so the charts show a denial.
  const refused = await client
    .fetch({
      service: "moh.medical-fitness",
      subjectId: applicant,
      purpose: "scholarship-eligibility",
      fields: [],
    })
    .then(
      () => false,
      () => true,
    );
  if (!refused) throw new Error("the policy allowed a request it should refuse");
  client.close();
  while (stack.index?.latestTreeHead()?.treeSize !== stack.index?.treeSize)
    await new Promise((r) => setTimeout(r, 100));

  const { page } = await browser.page();
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${stack.review?.url}/ui#/head`);
  await page.locator("#token-input").fill(stack.review?.token ?? "");
  await page.locator("#token-form button[type=submit]").click();
  await page.locator("#signature-verdict").waitFor();
  await page.screenshot({ path: join(docs, "review-ui.png"), fullPage: true });
  await page.goto(`${stack.review?.url}/ui#/charts`);
  await page.locator('figure.chart[data-chart="denials"] canvas').waitFor();
  await page.screenshot({ path: join(docs, "review-charts.png"), fullPage: true });

  const user = stack.citizen?.users.find((u) => u.subject_id === applicant);
  if (!user) throw new Error("no dev citizen for the scholarship applicant");
  await page.goto(stack.citizen?.url ?? "");
  await page.locator("#sign-in").click();
  await page.locator("#username").fill(user.username);
  await page.locator("#password").fill(user.password);
  await page.locator("button[type=submit]").click();
  await page.locator("#accesses button.verify").first().click();
  await page.locator("#accesses .verdict[data-ms]").waitFor();
  await page.screenshot({ path: join(docs, "citizen-page.png"), fullPage: true });
  process.stdout.write(`wrote review-ui.png, review-charts.png and citizen-page.png in ${docs}\n`);
} finally {
  await browser.close();
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
}
