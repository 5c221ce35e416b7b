// End-to-end: the built app in Debian's Chromium, against a real keycard in
// browser cookie mode, then against one in bearer mode (cookie mode off).
// Starts everything itself (keycard on a fresh SQLite file, `vite preview`
// with its /graphql proxy, Chromium with a fresh profile) on free loopback
// ports and stops it all afterwards, also when a test fails. Run with `npm run e2e`; needs Go and /usr/bin/chromium
// (CHROMIUM_PATH overrides).
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
// Without the networking flags Chromium phones home at start, which a
// closed CI network answers with errors and delays.
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
const username = `e2e_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

let workDir;
let keycardBinary;
let distDir;
let keycard; // { process, log: string[] }
let keycardUrl;
let appUrl;
let previewServer;
let context;
let page;
const pageErrors = [];
let failed = false;
const graphqlRequests = [];

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

function startKeycard(port, origin, { cookieMode, database }) {
  const child = spawn(keycardBinary, [], {
    cwd: workDir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      KEYCARD_ADDR: `127.0.0.1:${port}`,
      KEYCARD_DATABASE_URL: `sqlite:${join(workDir, database)}`,
      KEYCARD_ENV: 'development',
      KEYCARD_REFRESH_COOKIE: cookieMode ? 'on' : 'off',
      KEYCARD_CORS_ORIGINS: origin,
      KEYCARD_METRICS_ADDR: '', // off: the default port may be taken
      KEYCARD_LOG_LEVEL: 'warn',
    },
  });
  const log = [];
  const keep = (chunk) => {
    log.push(chunk.toString());
    if (log.length > 200) log.shift();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return { process: child, log };
}

async function stopKeycard(instance = keycard) {
  const child = instance?.process;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

// Last resort if the runner dies between before() and after().
const keycards = [];
process.on('exit', () => {
  for (const instance of keycards) if (instance.process.exitCode === null) instance.process.kill('SIGKILL');
});

/** A GraphQL request from outside the browser: another "device" of the user. */
async function gql(query, variables = {}, accessToken) {
  const response = await fetch(`${keycardUrl}/graphql`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'User-Agent': 'e2e-other-device',
      ...(accessToken ? { Authorization: `Bearer ${accessToken}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  return response.json();
}

async function signInOtherDevice() {
  const result = await gql('mutation($input: LoginInput!) { login(input: $input) { accessToken } }', {
    input: { username, password },
  });
  assert.ok(result.data?.login.accessToken, JSON.stringify(result));
  return result.data.login.accessToken;
}

async function otherDeviceIsSignedIn(accessToken) {
  const result = await gql('{ me { username } }', {}, accessToken);
  if (result.data?.me.username === username) return true;
  assert.equal(result.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', JSON.stringify(result));
  return false;
}

/** The operation name and headers of a request the app sent to /graphql. */
async function describeRequest(request) {
  const url = new URL(request.url());
  const query = request.method() === 'GET' ? url.searchParams.get('query') : request.postDataJSON().query;
  return { operation: /^\s*(query|mutation)\s+(\w+)/.exec(query)?.[2], headers: await request.allHeaders() };
}

async function refreshCookie() {
  // The cookie is scoped to /graphql, so ask for that URL.
  return (await context.cookies(`${appUrl}/graphql`)).find((cookie) => cookie.name === 'keycard_refresh');
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

async function problemCodes(form) {
  const problems = page.locator(`form[aria-labelledby="${form}"] [role=alert] li`);
  await problems.first().waitFor();
  return problems.evaluateAll((items) => items.map((item) => [item.dataset.code, item.textContent]));
}

// Each step leaves a screenshot in test-results/ when it fails.
function step(name, body, shownPage = () => page) {
  test(name, async () => {
    try {
      await body();
    } catch (error) {
      failed = true;
      const page = shownPage();
      if (page) {
        mkdirSync(resultsDir, { recursive: true });
        const file = join(resultsDir, `${name.replace(/[^a-z0-9]+/gi, '-')}.png`);
        await page.screenshot({ path: file, fullPage: true }).catch(() => {});
        console.error(`screenshot: ${file}`);
      }
      throw error;
    }
  });
}

// The keycard binary and the app, built once for both modes.
async function buildEverything() {
  workDir = mkdtempSync(join(tmpdir(), 'keycard-e2e-'));
  keycardBinary = join(workDir, 'keycard');
  const go = spawnSync('go', ['build', '-o', keycardBinary, '.'], { cwd: repoRoot, stdio: 'inherit' });
  if (go.status !== 0) throw new Error(`go build failed (${go.status ?? go.signal})`);
  distDir = join(workDir, 'dist');
  await build({ root: webDir, logLevel: 'warn', build: { outDir: distDir, emptyOutDir: true } });
}

// keycard, then the app behind `vite preview`, then Chromium, on a fresh
// database and profile; stopStack() stops whatever of it started.
async function startStack({ cookieMode, pageErrors = [], graphqlRequests = [] }) {
  const stack = { pageErrors, graphqlRequests };
  const [keycardPort, appPort] = [await freePort(), await freePort()];
  stack.keycardUrl = `http://127.0.0.1:${keycardPort}`;
  stack.appUrl = `http://127.0.0.1:${appPort}`;
  const name = cookieMode ? 'cookie' : 'bearer';
  stack.keycard = startKeycard(keycardPort, stack.appUrl, { cookieMode, database: `${name}.db` });
  keycards.push(stack.keycard);
  await waitUntilReady(`${stack.keycardUrl}/readyz`, stack.keycard.process, 30_000);

  // vite.config.ts reads KEYCARD_URL for its /graphql proxy.
  process.env.KEYCARD_URL = stack.keycardUrl;
  stack.previewServer = await preview({
    root: webDir,
    logLevel: 'warn',
    build: { outDir: distDir },
    preview: { host: '127.0.0.1', port: appPort, strictPort: true, open: false },
  });

  stack.context = await chromium.launchPersistentContext(join(workDir, `chromium-profile-${name}`), {
    executablePath: chromiumPath,
    headless: true,
    args: chromiumArgs,
  });
  stack.page = stack.context.pages()[0] ?? (await stack.context.newPage());
  stack.page.setDefaultTimeout(15_000);
  stack.page.on('pageerror', (error) => stack.pageErrors.push(error));
  stack.page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/graphql') stack.graphqlRequests.push(request);
  });
  return stack;
}

async function stopStack(stack) {
  if (!stack) return;
  await stack.context?.close().catch((error) => console.error('closing Chromium:', error));
  await stack.previewServer?.close().catch((error) => console.error('closing vite preview:', error));
  await stopKeycard(stack.keycard);
  if (stack.keycard && failed) console.error(`keycard log:\n${stack.keycard.log.join('')}`);
}

async function starting(start) {
  try {
    return await start();
  } catch (error) {
    failed = true;
    throw error;
  }
}

describe('example web app', () => {
  before(() => starting(buildEverything));
  after(() => {
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  describe('in cookie mode', () => {
    let stack;
    before(async () => {
      stack = await starting(() => startStack({ cookieMode: true, pageErrors, graphqlRequests }));
      ({ keycard, keycardUrl, appUrl, previewServer, context, page } = stack);
    });

    after(() => stopStack(stack));

    step('a new visitor sees the sign-in and sign-up forms', async () => {
      await page.goto(appUrl);
      await expectSignedOut();
      await page.getByRole('heading', { name: 'Sign up' }).waitFor();
    });

    step('signing up shows who I am', async () => {
      const signUp = page.locator('form[aria-labelledby="sign-up-title"]');
      await signUp.getByLabel('Username').fill(username);
      await signUp.getByLabel('Password').fill(password);
      await signUp.getByRole('button', { name: 'Create account' }).click();
      await expectSignedIn();
      await page.getByRole('heading', { name: 'Who am I' }).waitFor();
    });

    step('page scripts cannot read the refresh token, and nothing is stored', async () => {
      const cookie = await refreshCookie();
      assert.ok(cookie, 'the browser holds the keycard_refresh cookie');
      assert.equal(cookie.httpOnly, true);
      assert.equal(cookie.sameSite, 'Strict');
      assert.equal(cookie.path, '/graphql');
      const visible = await page.evaluate(() => ({
        cookie: document.cookie,
        localStorage: localStorage.length,
        sessionStorage: sessionStorage.length,
      }));
      assert.ok(!visible.cookie.includes('keycard_refresh'), `document.cookie: ${visible.cookie}`);
      assert.deepEqual([visible.localStorage, visible.sessionStorage], [0, 0]);
    });

    step('the sessions list marks this device', async () => {
      const sessions = page.getByTestId('session');
      await sessions.first().waitFor();
      assert.equal(await sessions.count(), 1);
      assert.match(await sessions.first().textContent(), /this device/);
    });

    step('a reload keeps me signed in through the refresh cookie', async () => {
      const before = await refreshCookie();
      graphqlRequests.length = 0;
      await page.reload();
      await expectSignedIn();
      const sent = await Promise.all(graphqlRequests.map(describeRequest));
      // The access token did not survive the reload (memory only): the auth
      // exchange refreshed once with the cookie, then asked who I am.
      assert.deepEqual(
        sent.map((request) => request.operation).filter((name) => name !== 'Sessions' && name !== 'Passkeys'),
        ['Refresh', 'Me'],
      );
      for (const { operation, headers } of sent) {
        assert.equal(headers['x-csrf-protection'], '1', `${operation} sends the CSRF header`);
        assert.equal((headers.authorization ?? '').startsWith('Bearer '), operation !== 'Refresh', `${operation}: ${headers.authorization}`);
      }
      const afterReload = await refreshCookie();
      assert.ok(afterReload, 'a refresh cookie after the reload');
      assert.notEqual(afterReload.value, before.value, 'the reload refreshed, so the cookie was rotated');
    });

    step('an access token about to expire is refreshed before the next request', async () => {
      // Move the page's clock past the token's 15 minutes: the auth exchange
      // must refresh before it sends the next operation.
      await page.evaluate(() => {
        const realNow = Date.now;
        Date.now = () => realNow() + 16 * 60 * 1000;
      });
      graphqlRequests.length = 0;
      const reloaded = page.waitForResponse((response) => response.url().includes('operationName=Sessions'));
      await page.getByRole('button', { name: 'Reload list' }).click();
      await reloaded;
      const sent = await Promise.all(graphqlRequests.map(describeRequest));
      assert.deepEqual(
        sent.map((request) => request.operation),
        ['Refresh', 'Sessions'],
      );
    });

    step('an operation answered UNAUTHENTICATED is sent again after a refresh', async () => {
      // Spoil the access token of the next Sessions request, as if it had
      // been revoked or had expired on the way.
      let spoiled = false;
      const spoil = async (route) => {
        const request = route.request();
        if (spoiled || !request.url().includes('operationName=Sessions')) return route.continue();
        spoiled = true;
        await route.continue({ headers: { ...(await request.allHeaders()), authorization: 'Bearer not-a-token' } });
      };
      await context.route('**/graphql?*', spoil);
      try {
        graphqlRequests.length = 0;
        await page.getByRole('button', { name: 'Reload list' }).click();
        await page.waitForResponse(
          (response) => response.url().includes('operationName=Sessions') && graphqlRequests.length >= 3,
        );
      } finally {
        await context.unroute('**/graphql?*', spoil);
      }
      const sent = await Promise.all(graphqlRequests.map(describeRequest));
      assert.deepEqual(
        sent.map((request) => request.operation),
        ['Sessions', 'Refresh', 'Sessions'],
      );
      await page.getByTestId('session').first().waitFor();
      assert.equal(await page.locator('[role=alert]').count(), 0);
    });

    step('two tabs loading at once take turns to refresh, and both stay signed in', async () => {
      // Hold the first refresh until a second one arrives (or 1.5 s pass),
      // then let both through: without turns, both tabs would present the
      // same refresh cookie, which keycard takes for theft (it ends the
      // session). Taking turns, the second tab asks only after the first has
      // its answer, and sends the rotated cookie.
      let releaseHeld;
      const held = new Promise((resolve) => (releaseHeld = resolve));
      let refreshes = 0;
      const slowRefresh = async (route) => {
        if (route.request().postDataJSON()?.operationName !== 'Refresh') return route.continue();
        refreshes += 1;
        if (refreshes === 1) {
          setTimeout(releaseHeld, 1500);
          await held;
        } else {
          releaseHeld();
        }
        await route.continue();
      };
      await context.route('**/graphql', slowRefresh);
      const secondTab = await context.newPage();
      secondTab.setDefaultTimeout(15_000);
      try {
        await Promise.all([page.reload(), secondTab.goto(appUrl)]);
        for (const tab of [page, secondTab]) {
          const shown = tab.getByTestId('username');
          await shown.waitFor();
          assert.equal(await shown.textContent(), username);
        }
      } finally {
        await context.unroute('**/graphql', slowRefresh);
        await secondTab.close();
      }
      await page.reload();
      await expectSignedIn();
    });

    step('a mutation with the cookie but without the CSRF header is refused', async () => {
      const answer = await page.evaluate(async () => {
        const response = await fetch('/graphql', {
          method: 'POST',
          credentials: 'include',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ query: 'mutation { refresh { expiresIn } }' }),
        });
        return { status: response.status, body: await response.json() };
      });
      assert.equal(answer.status, 403);
      assert.equal(answer.body.errors[0].extensions.code, 'FORBIDDEN');
    });

    step('revoking another session signs that device out', async () => {
      const otherDevice = await signInOtherDevice();
      await page.reload();
      await expectSignedIn();
      const others = page.locator('[data-testid=session][data-current=false]');
      await others.first().waitFor();
      assert.equal(await page.getByTestId('session').count(), 2);
      assert.match(await others.first().textContent(), /e2e-other-device/);
      await others.first().getByRole('button', { name: 'Revoke' }).click();
      await others.first().waitFor({ state: 'detached' });
      assert.equal(await page.getByTestId('session').count(), 1);
      assert.equal(await otherDeviceIsSignedIn(otherDevice), false);
    });

    step('logging out of this device shows the sign-in form, also after a reload', async () => {
      await page.getByRole('button', { name: 'Log out of this device' }).click();
      await expectSignedOut();
      assert.equal(await refreshCookie(), undefined, 'logout cleared the refresh cookie');
      await page.reload();
      await expectSignedOut();
    });

    step('errors are shown by their code', async () => {
      const signUp = page.locator('form[aria-labelledby="sign-up-title"]');
      await signUp.getByLabel('Username').fill(username.toUpperCase());
      await signUp.getByLabel('Password').fill(password);
      await signUp.getByRole('button', { name: 'Create account' }).click();
      assert.deepEqual(await problemCodes('sign-up-title'), [['USERNAME_TAKEN', 'Username: That username is taken.']]);

      await signUp.getByLabel('Username').fill(`${username}x`);
      await signUp.getByLabel('Password').fill('short');
      await signUp.getByRole('button', { name: 'Create account' }).click();
      await page.locator('[data-code=BAD_USER_INPUT]').waitFor();
      const [[code, text]] = await problemCodes('sign-up-title');
      assert.equal(code, 'BAD_USER_INPUT');
      assert.match(text, /^Password: /);

      const signIn = page.locator('form[aria-labelledby="sign-in-title"]');
      await signIn.getByLabel('Username').fill(username);
      await signIn.getByLabel('Password').fill('not the password');
      await signIn.getByRole('button', { name: 'Sign in' }).click();
      const [[signInCode]] = await problemCodes('sign-in-title');
      assert.equal(signInCode, 'UNAUTHENTICATED');
      await expectSignedOut();
    });

    step('signing in and logging out of all devices ends every session', async () => {
      const otherDevice = await signInOtherDevice();
      const signIn = page.locator('form[aria-labelledby="sign-in-title"]');
      await signIn.getByLabel('Username').fill(username);
      await signIn.getByLabel('Password').fill(password);
      await signIn.getByRole('button', { name: 'Sign in' }).click();
      await expectSignedIn();
      await page.getByRole('button', { name: 'Log out of all devices' }).click();
      await expectSignedOut();
      assert.equal(await otherDeviceIsSignedIn(otherDevice), false);
      await page.reload();
      await expectSignedOut();
    });

    step('a session ended on another device says so', async () => {
      const signIn = page.locator('form[aria-labelledby="sign-in-title"]');
      await signIn.getByLabel('Username').fill(username);
      await signIn.getByLabel('Password').fill(password);
      await signIn.getByRole('button', { name: 'Sign in' }).click();
      await expectSignedIn();
      await page.getByTestId('session').first().waitFor();

      // Another device signs in and logs out of all devices: this browser's
      // session is revoked under it.
      const otherDevice = await signInOtherDevice();
      const logout = await gql('mutation { logout(scope: ALL) }', {}, otherDevice);
      assert.equal(logout.data?.logout, true, JSON.stringify(logout));

      // Noticed at the next request: it answers UNAUTHENTICATED, and so does
      // the refresh that follows.
      graphqlRequests.length = 0;
      await page.getByRole('button', { name: 'Reload list' }).click();
      const notice = page.getByTestId('signed-out-elsewhere');
      await notice.waitFor();
      assert.match(await notice.textContent(), /signed out on another device/);
      await expectSignedOut();
      const sent = await Promise.all(graphqlRequests.map(describeRequest));
      const names = sent.map((request) => request.operation);
      assert.deepEqual(names.slice(0, 2), ['Sessions', 'Refresh'], names.join(', '));
      // Then the app starts over signed out: no second refresh, no token.
      assert.equal(names.filter((name) => name === 'Refresh').length, 1, names.join(', '));
      assert.equal(names.at(-1), 'Me', names.join(', '));
      for (const { operation, headers } of sent.slice(2)) {
        assert.equal(headers.authorization, undefined, `${operation} is sent without a token once signed out`);
      }

      // A reload knows nothing of it: just signed out.
      await page.reload();
      await expectSignedOut();
      assert.equal(await notice.count(), 0);
    });

    step('the page threw no uncaught errors', () => {
      assert.deepEqual(pageErrors.map(String), []);
    });
  });

  describe('in bearer mode (KEYCARD_REFRESH_COOKIE off)', () => {
    let stack;
    const bearerUser = `${username}b`;
    before(async () => {
      stack = await starting(() => startStack({ cookieMode: false }));
    });
    after(() => stopStack(stack));
    const shown = () => stack?.page;

    step(
      'signing up says that cookie mode is off',
      async () => {
        const { page } = stack;
        await page.goto(stack.appUrl);
        const signUp = page.locator('form[aria-labelledby="sign-up-title"]');
        await signUp.getByLabel('Username').fill(bearerUser);
        await signUp.getByLabel('Password').fill(password);
        await signUp.getByRole('button', { name: 'Create account' }).click();
        const whoAmI = page.getByTestId('username');
        await whoAmI.waitFor();
        assert.equal(await whoAmI.textContent(), bearerUser);
        const notice = page.getByTestId('bearer-mode');
        await notice.waitFor();
        assert.match(await notice.textContent(), /Cookie mode is off/);
        assert.match(await notice.textContent(), /ends when you reload/);
        // Nothing was written anywhere a script could read it later.
        const stored = await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]);
        assert.deepEqual(stored, [0, 0, '']);
      },
      shown,
    );

    step(
      'the session lives in memory: it refreshes with its own token, and a reload ends it',
      async () => {
        const { page } = stack;
        // Past the access token's lifetime: the next request refreshes first,
        // with the refresh token the page holds (no cookie in this mode).
        await page.evaluate(() => {
          const realNow = Date.now;
          Date.now = () => realNow() + 16 * 60 * 1000;
        });
        stack.graphqlRequests.length = 0;
        const reloaded = page.waitForResponse((response) => response.url().includes('operationName=Sessions'));
        await page.getByRole('button', { name: 'Reload list' }).click();
        await reloaded;
        const refresh = stack.graphqlRequests.find((request) => request.postDataJSON()?.operationName === 'Refresh');
        assert.ok(refresh, 'a refresh was sent');
        assert.equal(typeof refresh.postDataJSON().variables.token, 'string', 'bearer mode sends its refresh token');
        assert.equal(await page.locator('[role=alert]').count(), 0);
        assert.equal(await page.getByTestId('username').textContent(), bearerUser);

        await page.reload();
        await page.getByRole('heading', { name: 'Sign in' }).waitFor();
        assert.equal(await page.getByTestId('username').count(), 0);
      },
      shown,
    );

    step(
      'the page threw no uncaught errors',
      () => {
        assert.deepEqual(stack.pageErrors.map(String), []);
      },
      shown,
    );
  });
});
