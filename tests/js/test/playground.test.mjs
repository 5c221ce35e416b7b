// The playground (GET /) in Chromium with the network cut to keycard alone:
// it must render from the binary's own files, run the starting document,
// send the pasted token, work in cookie mode, and keep the token out of
// the browser's storage.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { launchChromium, offlineExcept } from '../lib/chromium.mjs';
import { startKeycard, uniqueName } from '../lib/keycard.mjs';

const resultsDir = fileURLToPath(new URL('../test-results', import.meta.url));

describe('playground in cookie mode, offline', () => {
  let keycard;
  let browser;
  let page;
  let refused;
  const consoleErrors = [];
  const graphqlRequests = [];
  let failed = false;
  const username = uniqueName('playground');
  let accessToken;

  before(async () => {
    keycard = await startKeycard({ env: { KEYCARD_REFRESH_COOKIE: 'on' } });
    browser = await launchChromium();
    refused = await offlineExcept(browser.context, keycard.url);
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: keycard.url });
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.setDefaultTimeout(20_000);
    // Tall enough for the whole starting document: the editor draws only
    // the lines in view.
    await page.setViewportSize({ width: 1280, height: 1600 });
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(String(error)));
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/graphql') graphqlRequests.push(request);
    });
  });

  after(async () => {
    await browser?.close();
    if (failed && keycard) console.error(`keycard log:\n${keycard.log()}`);
    await keycard?.stop();
  });

  // Each step leaves a screenshot in test-results/ when it fails.
  function step(name, body) {
    test(name, async () => {
      try {
        await body();
      } catch (error) {
        failed = true;
        if (page) {
          mkdirSync(resultsDir, { recursive: true });
          const file = join(resultsDir, `playground-${name.replace(/[^a-z0-9]+/gi, '-')}.png`);
          await page.screenshot({ path: file, fullPage: true }).catch(() => {});
          console.error(`screenshot: ${file}`);
        }
        throw error;
      }
    });
  }

  // Monaco draws spaces as no-break spaces.
  async function editorText(editor) {
    const lines = page.locator(`.graphiql-${editor} .view-lines:visible`, { hasText: /\S/ });
    await lines.waitFor();
    return (await lines.innerText()).replaceAll('\u00a0', ' ');
  }
  // paste replaces what the focused editor holds with text, through the
  // clipboard as a person would (typing would trip the editor's
  // auto-closing of brackets and quotes).
  async function paste(text) {
    await page.evaluate((value) => navigator.clipboard.writeText(value), text);
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Control+V');
  }
  // tool shows the variables or the headers editor.
  const tool = (name) => page.locator(`.graphiql-editor-tools button[data-name="${name}"]`).click();

  // run puts the cursor on the line that starts the operation and runs it
  // (Ctrl-Enter runs the operation under the cursor), returning the JSON
  // keycard answered and the headers the page sent.
  async function run(operationLine, operationName) {
    await page.locator('.graphiql-query-editor .view-line', { hasText: operationLine }).first().click();
    const answered = page.waitForResponse(
      (response) => new URL(response.url()).pathname === '/graphql' && response.request().postDataJSON()?.operationName === operationName,
    );
    await page.keyboard.press('Control+Enter');
    const response = await answered;
    return { body: await response.json(), headers: await response.request().allHeaders() };
  }

  step('renders GraphiQL with the starting document and the headers template', async () => {
    // GraphiQL loads the schema first; keycard's query limits must let its
    // introspection query through (it is on in development).
    const schema = page.waitForResponse((response) => response.request().postDataJSON()?.operationName === 'IntrospectionQuery');
    await page.goto(`${keycard.url}/`);
    await page.locator('.graphiql-container').waitFor();
    const introspection = await schema;
    assert.equal(introspection.status(), 200);
    assert.ok((await introspection.json()).data?.__schema?.queryType, 'the schema arrived');
    await page.locator('.graphiql-query-editor .view-line', { hasText: 'mutation Register' }).waitFor();
    const query = await editorText('query-editor');
    for (const operation of ['mutation Register', 'mutation Login', 'query Me']) assert.match(query, new RegExp(operation));
    await tool('headers');
    assert.match(await editorText('editor-tool'), /^\{\s*"Authorization":\s*"Bearer …"\s*\}$/);
  });

  step('runs Register with its variables; the template placeholder is not sent', async () => {
    await tool('variables');
    assert.match(await editorText('editor-tool'), /"username": "alice"/);
    await page.locator('.graphiql-editor-tool .view-lines:visible').click();
    await paste(JSON.stringify({ input: { username, password: 'correct horse battery staple' } }));
    const { body, headers } = await run('mutation Register', 'Register');
    assert.equal(body.errors, undefined, JSON.stringify(body));
    assert.equal(body.data.register.user.username, username);
    assert.equal(body.data.register.refreshToken, null, 'cookie mode keeps the refresh token out of the body');
    assert.equal(headers.authorization, undefined, 'the placeholder "Bearer …" is not a token');
    assert.equal(headers['x-csrf-protection'], '1');
    accessToken = body.data.register.accessToken;
    await page.locator('.graphiql-response .view-lines', { hasText: 'accessToken' }).waitFor();
    const cookies = await browser.context.cookies(`${keycard.url}/graphql`);
    assert.ok(cookies.some((cookie) => cookie.name === 'keycard_refresh' && cookie.httpOnly), 'the refresh cookie is set');
  });

  step('sends the pasted bearer token with Me', async () => {
    await tool('headers');
    await page.locator('.graphiql-editor-tool .view-lines:visible').click();
    await paste(JSON.stringify({ Authorization: `Bearer ${accessToken}` }));
    const { body, headers } = await run('query Me', 'Me');
    assert.equal(headers.authorization, `Bearer ${accessToken}`);
    assert.equal(body.errors, undefined, JSON.stringify(body));
    assert.equal(body.data.me.username, username);
  });

  step('a mutation after signing in carries the CSRF header and works with the cookie', async () => {
    // The browser now sends the refresh cookie with every /graphql request;
    // keycard refuses a mutation with it unless X-CSRF-Protection is there.
    const { body, headers } = await run('mutation Login', 'Login');
    assert.equal(headers['x-csrf-protection'], '1');
    assert.match(headers.cookie ?? '', /keycard_refresh=/, 'the cookie went along');
    assert.equal(body.errors, undefined, JSON.stringify(body));
    assert.equal(body.data.login.user.username, username);
  });

  step('the token is in no storage of the browser, and a reload forgets it', async () => {
    const stored = await page.evaluate(() => ({
      local: Object.entries(localStorage),
      session: Object.entries(sessionStorage),
    }));
    // GraphiQL did store its tabs and history: the check below looks at
    // real entries, not an empty store.
    const keys = stored.local.map(([key]) => key);
    assert.ok(keys.includes('graphiql:tabState'), `localStorage keys: ${keys}`);
    assert.ok(keys.includes('graphiql:queries'), `localStorage keys: ${keys}`);
    assert.match(stored.local.find(([key]) => key === 'graphiql:queries')[1], /query Me/);
    for (const [key, value] of [...stored.local, ...stored.session]) {
      assert.ok(!value.includes(accessToken), `${key} holds the access token`);
      assert.ok(!/authorization/i.test(value), `${key} holds an Authorization header: ${value.slice(0, 300)}`);
      assert.ok(!value.includes('correct horse battery staple'), `${key} holds the password`);
    }
    await page.reload();
    await page.locator('.graphiql-query-editor .view-line', { hasText: 'mutation Register' }).waitFor();
    await tool('headers');
    assert.match(await editorText('editor-tool'), /"Authorization":\s*"Bearer …"/, 'the template is back');
    const html = await page.content();
    assert.ok(!html.includes(accessToken), 'the token came back after a reload');
  });

  step('nothing outside keycard was requested, and the page reported no error', async () => {
    assert.deepEqual(refused, []);
    assert.deepEqual(consoleErrors, []);
    assert.ok(graphqlRequests.length >= 3);
  });
});
