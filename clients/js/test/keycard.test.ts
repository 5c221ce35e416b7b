// The package against a real keycard: builds the binary from this
// repository (`go build`), starts it on free loopback ports (bearer mode,
// and cookie mode with a cookie jar standing in for the browser), and drives
// it with real urql and Apollo clients.
import { ApolloClient, HttpLink, InMemoryCache, gql as apolloGql, type TypedDocumentNode } from '@apollo/client';
import { Client, cacheExchange, fetchExchange, gql } from '@urql/core';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createSession, hasCode, inPageLock, type Session, type SessionOptions, type Tokens } from '../src/index.js';
import { keycardAuthLink } from '../src/apollo.js';
import { keycardAuthExchange } from '../src/urql.js';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const password = 'correct horse battery staple';
let workDir: string;
let binary: string;
const running: ChildProcess[] = [];
const sessions: Session[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function startKeycard(cookieMode: boolean): Promise<string> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(binary, [], {
    cwd: workDir,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      // Only the settings below: none of the caller's KEYCARD_* variables.
      ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('KEYCARD_'))),
      KEYCARD_ADDR: `127.0.0.1:${port}`,
      KEYCARD_DATABASE_URL: `sqlite:${join(workDir, cookieMode ? 'cookie.db' : 'bearer.db')}`,
      KEYCARD_ENV: 'development',
      KEYCARD_REFRESH_COOKIE: cookieMode ? 'on' : 'off',
      KEYCARD_METRICS_ADDR: '',
      KEYCARD_LOG_LEVEL: 'error',
    },
  });
  running.push(child);
  const log: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => log.push(chunk.toString()));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`keycard exited with ${child.exitCode}: ${log.join('')}`);
    try {
      if ((await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) })).ok) return `${url}/graphql`;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`keycard at ${url} was not ready: ${log.join('')}`);
}

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'keycard-client-'));
  binary = join(workDir, 'keycard');
  const go = spawnSync('go', ['build', '-o', binary, '.'], { cwd: repoRoot, stdio: 'inherit' });
  if (go.status !== 0) throw new Error(`go build failed (${go.status ?? go.signal})`);
}, 300_000);

afterAll(async () => {
  for (const s of sessions) s.dispose();
  await Promise.all(
    running.map(
      (child) =>
        new Promise((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined);
          child.once('exit', resolve);
          child.kill('SIGTERM');
        }),
    ),
  );
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

function newSession(options: SessionOptions): Session {
  const s = createSession({ broadcast: false, ...options });
  sessions.push(s);
  return s;
}

let users = 0;
const newUsername = () => `js_${Date.now().toString(36)}_${++users}`;

/** Another device of the same user: logs in and logs out of all devices. */
async function logOutEverywhere(url: string, username: string) {
  const post = async (query: string, variables: object, token?: string) =>
    (
      await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query, variables }),
      })
    ).json() as Promise<{ data?: Record<string, unknown> }>;
  const login = await post('mutation($input: LoginInput!) { login(input: $input) { accessToken } }', {
    input: { username, password },
  });
  const token = (login.data?.login as { accessToken: string } | undefined)?.accessToken;
  expect(token).toBeTypeOf('string');
  const logout = await post('mutation { logout(scope: ALL) }', {}, token);
  expect(logout.data?.logout).toBe(true);
}

/** A clock the test moves, to expire access tokens without waiting. */
function clock() {
  let offset = 0;
  return { now: () => Date.now() + offset, skip: (ms: number) => (offset += ms) };
}

const registerDocument = `
  mutation Register($input: RegisterInput!) {
    register(input: $input) { accessToken refreshToken expiresIn }
  }
`;
const meDocument = `
  query Me { me { id username } }
`;

describe('bearer mode (KEYCARD_REFRESH_COOKIE off)', () => {
  let url: string;
  beforeAll(async () => {
    url = await startKeycard(false);
  }, 60_000);

  test('urql: signs in, refreshes an expired token with its refresh token, and notices a logout everywhere', async () => {
    const time = clock();
    const session = newSession({ url, now: time.now });
    const client = new Client({
      url,
      requestPolicy: 'network-only',
      exchanges: [cacheExchange, keycardAuthExchange(session), fetchExchange],
    });
    const username = newUsername();
    const registered = await client
      .mutation<{ register: Tokens }>(gql(registerDocument), { input: { username, password } })
      .toPromise();
    expect(registered.error).toBeUndefined();
    session.signIn(registered.data!.register);
    expect(session.state).toMatchObject({ status: 'signedIn', mode: 'bearer' });

    const me = gql<{ me: { username: string } }>(meDocument);
    expect((await client.query(me, {}).toPromise()).data?.me.username).toBe(username);

    const before = session.accessToken();
    time.skip(16 * 60 * 1000); // past the access token's 15 minutes
    expect(session.needsRefresh()).toBe(true);
    expect((await client.query(me, {}).toPromise()).data?.me.username).toBe(username);
    expect(session.accessToken()).not.toBe(before);
    // The rotated refresh token works too.
    time.skip(16 * 60 * 1000);
    expect((await client.query(me, {}).toPromise()).data?.me.username).toBe(username);

    await logOutEverywhere(url, username);
    const after = await client.query(me, {}).toPromise();
    expect(hasCode(after.error, 'UNAUTHENTICATED')).toBe(true);
    expect(session.state).toMatchObject({ status: 'signedOut', reason: 'revoked' });
  });

  test('Apollo: the same', async () => {
    const time = clock();
    const session = newSession({ url, now: time.now });
    const client = new ApolloClient({
      cache: new InMemoryCache(),
      link: keycardAuthLink(session).concat(new HttpLink({ uri: url })),
      defaultOptions: { query: { fetchPolicy: 'network-only' } },
    });
    const username = newUsername();
    const registered = await client.mutate({
      mutation: apolloGql(registerDocument) as TypedDocumentNode<{ register: Tokens }>,
      variables: { input: { username, password } },
    });
    session.signIn(registered.data!.register);
    expect(session.state).toMatchObject({ status: 'signedIn', mode: 'bearer' });

    const me = apolloGql(meDocument) as TypedDocumentNode<{ me: { username: string } }>;
    expect((await client.query({ query: me })).data?.me.username).toBe(username);
    const before = session.accessToken();
    time.skip(16 * 60 * 1000);
    expect((await client.query({ query: me })).data?.me.username).toBe(username);
    expect(session.accessToken()).not.toBe(before);

    await logOutEverywhere(url, username);
    const error = await client.query({ query: me }).then(
      (result) => result.error,
      (e: unknown) => e,
    );
    expect(hasCode(error, 'UNAUTHENTICATED')).toBe(true);
    expect(session.state).toMatchObject({ status: 'signedOut', reason: 'revoked' });
  });

  test('a wrong password is an answer, not a reason to refresh', async () => {
    const session = newSession({ url });
    const client = new Client({ url, exchanges: [keycardAuthExchange(session), fetchExchange] });
    const result = await client
      .mutation(gql('mutation Login($input: LoginInput!) { login(input: $input) { accessToken } }'), {
        input: { username: newUsername(), password: 'not the password' },
      })
      .toPromise();
    expect(hasCode(result.error, 'UNAUTHENTICATED')).toBe(true);
    expect(session.state.status).toBe('unknown');
  });
});

/** What a browser does with keycard's refresh cookie, for fetch in Node. */
function cookieJar() {
  const cookies = new Map<string, string>();
  const jarFetch: typeof fetch = async (input, init) => {
    const headers = new Headers(init?.headers);
    if (cookies.size > 0) headers.set('Cookie', [...cookies].map(([name, value]) => `${name}=${value}`).join('; '));
    const response = await fetch(input, { ...init, headers });
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      const gone = value === '' || attributes.some((a) => /^\s*max-age=(0|-)/i.test(a));
      if (gone) cookies.delete(name);
      else cookies.set(name, value);
    }
    return response;
  };
  return { fetch: jarFetch, cookies };
}

describe('cookie mode (KEYCARD_REFRESH_COOKIE on)', () => {
  let url: string;
  beforeAll(async () => {
    url = await startKeycard(true);
  }, 60_000);

  async function signedInBrowser() {
    const jar = cookieJar();
    const session = newSession({ url, fetch: jar.fetch });
    const client = new Client({
      url,
      fetch: jar.fetch,
      requestPolicy: 'network-only',
      fetchOptions: { headers: { 'X-CSRF-Protection': '1' } },
      exchanges: [cacheExchange, keycardAuthExchange(session), fetchExchange],
    });
    const username = newUsername();
    const registered = await client
      .mutation<{ register: Tokens }>(gql(registerDocument), { input: { username, password } })
      .toPromise();
    expect(registered.error).toBeUndefined();
    expect(registered.data?.register.refreshToken).toBeNull();
    session.signIn(registered.data!.register);
    expect(session.state).toMatchObject({ status: 'signedIn', mode: 'cookie' });
    expect(jar.cookies.has('keycard_refresh')).toBe(true);
    return { jar, username };
  }

  /** A tab of the browser: a fresh page load sharing the cookie jar. */
  function tab(jar: ReturnType<typeof cookieJar>, lock: SessionOptions['lock']) {
    const session = newSession({ url, fetch: jar.fetch, lock });
    const client = new Client({
      url,
      fetch: jar.fetch,
      requestPolicy: 'network-only',
      fetchOptions: { headers: { 'X-CSRF-Protection': '1' } },
      exchanges: [cacheExchange, keycardAuthExchange(session), fetchExchange],
    });
    return { session, client };
  }

  const me = gql<{ me: { username: string } }>(meDocument);

  test('tabs loading at once take turns with the cookie, and all stay signed in', async () => {
    const { jar, username } = await signedInBrowser();
    const lock = inPageLock(); // what the Web Locks API is to the tabs of an origin
    const tabs = [tab(jar, lock), tab(jar, lock), tab(jar, lock)];
    const answers = await Promise.all(tabs.map(({ client }) => client.query(me, {}).toPromise()));
    expect(answers.map((a) => a.data?.me.username)).toEqual([username, username, username]);
    expect(tabs.map(({ session }) => session.state.status)).toEqual(['signedIn', 'signedIn', 'signedIn']);
  });

  test('without taking turns, keycard takes the second use of the cookie for theft and ends the session', async () => {
    const { jar } = await signedInBrowser();
    const noLock: SessionOptions['lock'] = (_name, task) => task();
    const tabs = [tab(jar, noLock), tab(jar, noLock)];
    // Both read the jar before either answer comes back: one cookie, presented twice.
    await Promise.all(tabs.map(({ session }) => session.refresh().catch(() => null)));
    const states = tabs.map(({ session }) => session.state);
    expect(states.map((state) => state.status).sort()).toEqual(['signedIn', 'signedOut']);
    // Even the tab whose refresh went first has lost its session.
    const winner = tabs.find(({ session }) => session.state.status === 'signedIn')!;
    const answer = await winner.client.query(me, {}).toPromise();
    expect(hasCode(answer.error, 'UNAUTHENTICATED')).toBe(true);
    expect(winner.session.state).toMatchObject({ status: 'signedOut', reason: 'revoked' });
  });

  test('a logout everywhere from another device shows as revoked', async () => {
    const { jar, username } = await signedInBrowser();
    const { session, client } = tab(jar, inPageLock());
    expect((await client.query(me, {}).toPromise()).data?.me.username).toBe(username);
    await logOutEverywhere(url, username);
    const after = await client.query(me, {}).toPromise();
    expect(hasCode(after.error, 'UNAUTHENTICATED')).toBe(true);
    expect(session.state).toMatchObject({ status: 'signedOut', reason: 'revoked' });
  });
});
