// End-to-end: "Add a passkey" and "Sign in with a passkey" in Debian's
// Chromium, with the DevTools virtual authenticator (a platform
// authenticator holding discoverable credentials and verifying its user),
// against a real keycard in cookie mode. WebAuthn runs only on a page whose
// host is the RP ID (keycard's development default, localhost) and whose
// origin keycard lists in KEYCARD_WEBAUTHN_ORIGINS: the app is browsed at
// http://localhost:PORT, not 127.0.0.1. Starts and stops everything itself,
// as signup.test.mjs does. Run with `npm run e2e`.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { build, preview } from 'vite';

const webDir = fileURLToPath(new URL('..', import.meta.url));
const repoRoot = join(webDir, '..', '..');
const resultsDir = join(webDir, 'test-results');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

const password = 'correct horse battery staple';
const username = `pk_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

let workDir;
let keycard; // { process, log: string[] }
let keycardUrl;
let appUrl;
let previewServer;
let context;
let page;
let cdp;
let authenticatorId;
const pageErrors = [];
let failed = false;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilReady(url, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`keycard exited with ${child.exitCode} before it was ready`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} was not ready within ${timeoutMs} ms`);
}

async function stopKeycard() {
  const child = keycard?.process;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

process.on('exit', () => {
  if (keycard?.process.exitCode === null) keycard.process.kill('SIGKILL');
});

/** A GraphQL request from outside the browser: another device of the user. */
async function gql(query, variables = {}, accessToken) {
  const response = await fetch(`${keycardUrl}/graphql`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      ...(accessToken ? { Authorization: `Bearer ${accessToken}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  return response.json();
}

async function expectSignedIn() {
  const shown = page.getByTestId('username');
  await shown.waitFor();
  assert.equal(await shown.textContent(), username);
}

async function expectSignedOut() {
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  assert.equal(await page.getByTestId('username').count(), 0);
}

/** The credentials the virtual authenticator holds. */
async function heldCredentials() {
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  return credentials;
}

function step(name, body) {
  test(name, async () => {
    try {
      await body();
    } catch (error) {
      failed = true;
      if (page) {
        mkdirSync(resultsDir, { recursive: true });
        const file = join(resultsDir, `passkeys-${name.replace(/[^a-z0-9]+/gi, '-')}.png`);
        await page.screenshot({ path: file, fullPage: true }).catch(() => {});
        console.error(`screenshot: ${file}`);
      }
      throw error;
    }
  });
}

async function startEverything() {
  workDir = mkdtempSync(join(tmpdir(), 'keycard-e2e-passkeys-'));
  const keycardBinary = join(workDir, 'keycard');
  const go = spawnSync('go', ['build', '-o', keycardBinary, '.'], { cwd: repoRoot, stdio: 'inherit' });
  if (go.status !== 0) throw new Error(`go build failed (${go.status ?? go.signal})`);
  const distDir = join(workDir, 'dist');
  await build({ root: webDir, logLevel: 'warn', build: { outDir: distDir, emptyOutDir: true } });

  const [keycardPort, appPort] = [await freePort(), await freePort()];
  keycardUrl = `http://127.0.0.1:${keycardPort}`;
  appUrl = `http://localhost:${appPort}`;
  const child = spawn(keycardBinary, [], {
    cwd: workDir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      KEYCARD_ADDR: `127.0.0.1:${keycardPort}`,
      KEYCARD_DATABASE_URL: `sqlite:${join(workDir, 'passkeys.db')}`,
      KEYCARD_ENV: 'development',
      KEYCARD_REFRESH_COOKIE: 'on',
      KEYCARD_CORS_ORIGINS: appUrl,
      // The RP ID stays development's localhost; the page is this origin.
      KEYCARD_WEBAUTHN_ORIGINS: appUrl,
      KEYCARD_METRICS_ADDR: '',
      KEYCARD_LOG_LEVEL: 'warn',
    },
  });
  keycard = { process: child, log: [] };
  const keep = (chunk) => {
    keycard.log.push(chunk.toString());
    if (keycard.log.length > 200) keycard.log.shift();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  await waitUntilReady(`${keycardUrl}/readyz`, child, 30_000);

  process.env.KEYCARD_URL = keycardUrl;
  previewServer = await preview({
    root: webDir,
    logLevel: 'warn',
    build: { outDir: distDir },
    preview: { host: '127.0.0.1', port: appPort, strictPort: true, open: false },
  });

  context = await chromium.launchPersistentContext(join(workDir, 'chromium-profile'), {
    executablePath: chromiumPath,
    headless: true,
    args: chromiumArgs,
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (error) => pageErrors.push(error));

  // The DevTools virtual authenticator: what a laptop's platform
  // authenticator is to WebAuthn, answering at once (presence simulated)
  // with its user verified.
  cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  ({ authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  }));
}

async function stopEverything() {
  await context?.close().catch((error) => console.error('closing Chromium:', error));
  await previewServer?.close().catch((error) => console.error('closing vite preview:', error));
  await stopKeycard();
  if (keycard && failed) console.error(`keycard log:\n${keycard.log.join('')}`);
  if (workDir) rmSync(workDir, { recursive: true, force: true });
}

describe('passkeys in the example web app', () => {
  before(async () => {
    try {
      await startEverything();
    } catch (error) {
      failed = true;
      throw error;
    }
  });
  after(stopEverything);

  step('signed out, the app offers to sign in with a passkey', async () => {
    await page.goto(appUrl);
    await expectSignedOut();
    await page.getByRole('button', { name: 'Sign in with a passkey' }).waitFor();
  });

  step('a signed-in user adds a passkey, which the authenticator keeps as a discoverable credential', async () => {
    const signUp = page.locator('form[aria-labelledby="sign-up-title"]');
    await signUp.getByLabel('Username').fill(username);
    await signUp.getByLabel('Password').fill(password);
    await signUp.getByRole('button', { name: 'Create account' }).click();
    await expectSignedIn();
    await page.getByText('No passkeys yet.').waitFor();

    const add = page.locator('form[aria-labelledby="add-passkey-title"]');
    await add.getByLabel('Name (optional)').fill('e2e laptop');
    await add.getByRole('button', { name: 'Add a passkey' }).click();
    const listed = page.getByTestId('passkey');
    await listed.first().waitFor();
    assert.equal(await listed.count(), 1);
    assert.match(await listed.first().textContent(), /e2e laptop.*not used yet/);

    const held = await heldCredentials();
    assert.equal(held.length, 1);
    assert.equal(held[0].isResidentCredential, true, 'the passkey is discoverable');
    assert.equal(held[0].rpId, 'localhost');
    assert.equal(Buffer.from(held[0].userHandle, 'base64').length, 16, 'the user handle is the 16-byte user id');
  });

  step('the same authenticator is not registered twice', async () => {
    const add = page.locator('form[aria-labelledby="add-passkey-title"]');
    await add.getByRole('button', { name: 'Add a passkey' }).click();
    const problem = add.locator('[data-code=PASSKEY_DIALOG]');
    await problem.waitFor();
    assert.match(await problem.textContent(), /already holds a passkey/);
    assert.equal(await page.getByTestId('passkey').count(), 1);
    assert.equal((await heldCredentials()).length, 1);
  });

  step('signed out, "Sign in with a passkey" signs in without a username or password', async () => {
    await page.getByRole('button', { name: 'Log out of this device' }).click();
    await expectSignedOut();
    const finished = page.waitForResponse(
      (response) => response.request().postDataJSON()?.operationName === 'FinishPasskeyLogin',
    );
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    const answer = await (await finished).json();
    await expectSignedIn();

    // A complete login: the access token says hwk, and the refresh token
    // went into the httpOnly cookie as for a password login.
    const token = answer.data.finishPasskeyLogin.accessToken;
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
    assert.deepEqual(claims.amr, ['hwk']);
    assert.equal(answer.data.finishPasskeyLogin.refreshToken, null);
    await page.reload();
    await expectSignedIn();
    await page.getByTestId('passkey').getByText(/last used/).waitFor();
  });

  step('removing the passkey ends the other sessions, and it signs in no more', async () => {
    const login = await gql('mutation($input: LoginInput!) { login(input: $input) { accessToken } }', {
      input: { username, password },
    });
    const otherDevice = login.data.login.accessToken;
    await page.getByTestId('passkey').first().getByRole('button', { name: 'Remove' }).click();
    await page.getByText('No passkeys yet.').waitFor();
    const me = await gql('{ me { username } }', {}, otherDevice);
    assert.equal(me.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', JSON.stringify(me));

    await page.getByRole('button', { name: 'Log out of this device' }).click();
    await expectSignedOut();
    // The authenticator still holds the credential; keycard refuses it.
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    const problem = page.locator('[role=alert] [data-code=BAD_USER_INPUT]');
    await problem.waitFor();
    assert.equal(await problem.textContent(), 'Passkey: the passkey could not be verified');
    await expectSignedOut();
  });

  step('the page threw no uncaught errors', () => {
    assert.deepEqual(pageErrors.map(String), []);
  });
});
