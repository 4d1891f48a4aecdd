import type { Page } from "playwright-core";
import type { DevCitizenUser } from "../../stack/index.js";
import type { TestStack } from "./stack.js";

/** Waits until a signed tree head covers `size` entries, so every row up to there has a proof. */
export async function headCovering(stack: TestStack, size: number): Promise<void> {
  for (let i = 0; (stack.index?.latestTreeHead()?.treeSize ?? 0) < size; i++) {
    if (i > 200) throw new Error(`the log signed no tree head over ${size} entries in 20 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Signs in on the citizen page through the dev identity provider's own form, and waits for the rows. */
export async function signIn(page: Page, stack: TestStack, user: DevCitizenUser): Promise<void> {
  await page.goto(stack.citizen?.url ?? "");
  await page.locator("#sign-in").click();
  await page.locator("#username").fill(user.username);
  await page.locator("#password").fill(user.password);
  await page.locator("button[type=submit]").click();
  await page.locator("#count").waitFor();
}
