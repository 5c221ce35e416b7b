// Debian's Chromium (CHROMIUM_PATH overrides) through playwright-core, with
// a fresh profile, and with its own phoning home turned off: a closed CI
// network answers that with errors and delays.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** launchChromium returns a browser context; close() also removes its profile. */
export async function launchChromium() {
  const profile = mkdtempSync(join(tmpdir(), 'keycard-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: chromiumArgs,
  });
  return {
    context,
    async close() {
      await context.close().catch((error) => console.error('closing Chromium:', error));
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * offlineExcept refuses every request of the context that does not go to
 * origin, as if there were no network beyond keycard, and returns the list
 * of what was refused.
 */
export async function offlineExcept(context, origin) {
  const refused = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (new URL(url).origin === origin) return route.continue();
    refused.push(url);
    return route.abort('internetdisconnected');
  });
  return refused;
}
