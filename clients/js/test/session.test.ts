import { afterEach, describe, expect, test, vi } from 'vitest';
import {
  RefreshError,
  createSession,
  defaultLock,
  findError,
  inPageLock,
  type LockFunction,
  type Session,
  type SessionOptions,
  type SessionState,
} from '../src/index.js';
import { accessToken, deferred, fakeKeycard, tokens, unauthenticated, type Answer } from './fakeKeycard.js';

const sessions: Session[] = [];

function session(options: Partial<SessionOptions> & Pick<SessionOptions, 'fetch'>): Session {
  // A channel per test, so tabs of one test do not hear another test's.
  const made = createSession({ url: '/graphql', channelName: `test-${expect.getState().currentTestName}`, ...options });
  sessions.push(made);
  return made;
}

afterEach(() => {
  for (const made of sessions.splice(0)) made.dispose();
});

function signedIn(mode: 'cookie' | 'bearer', refreshToken: string | null = mode === 'bearer' ? 'r1' : null) {
  return { accessToken: accessToken(), expiresIn: 900, refreshToken };
}

describe('refresh', () => {
  test('a page load starts unknown, needs a refresh, and the refresh cookie signs in', async () => {
    const keycard = fakeKeycard({ Refresh: () => tokens(null) });
    const s = session({ fetch: keycard.fetch });
    expect(s.state).toEqual({ status: 'unknown', generation: 0 });
    expect(s.needsRefresh()).toBe(true);
    expect(s.mayRefresh()).toBe(true);

    const token = await s.refresh();

    expect(token).toMatch(/\.sig$/);
    expect(s.accessToken()).toBe(token);
    // Same generation: the same user goes on, the operations that waited are not thrown away.
    expect(s.state).toEqual({ status: 'signedIn', mode: 'cookie', generation: 0 });
    expect(s.needsRefresh()).toBe(false);
    expect(keycard.sent).toEqual([
      expect.objectContaining({
        operationName: 'Refresh',
        variables: {},
        authorization: null,
        csrf: '1',
        credentials: 'include',
      }),
    ]);
  });

  test('callers asking at the same time share one refresh', async () => {
    const answer = deferred<Answer>();
    const keycard = fakeKeycard({ Refresh: () => answer.promise });
    const s = session({ fetch: keycard.fetch });

    const waiting = [s.refresh(), s.refresh(), s.refresh()];
    answer.resolve(tokens(null));
    const got = await Promise.all(waiting);

    expect(keycard.names()).toEqual(['Refresh']);
    expect(new Set(got).size).toBe(1);
    // Once settled, the next caller starts a new refresh.
    await s.refresh();
    expect(keycard.names()).toEqual(['Refresh', 'Refresh']);
  });

  test('cookie mode refreshes under the shared lock; bearer mode sends its own token without it', async () => {
    const held: string[] = [];
    const lock: LockFunction = async (name, task) => {
      held.push(name);
      return task();
    };
    const keycard = fakeKeycard({
      Refresh: (request) => tokens(request.variables.token ? `rotated-${request.variables.token}` : null),
    });
    const cookie = session({ fetch: keycard.fetch, lock, channelName: 'app-a' });
    await cookie.refresh();
    expect(held).toEqual(['app-a']);

    const bearer = session({ fetch: keycard.fetch, lock });
    bearer.signIn(signedIn('bearer', 'r1'));
    expect(bearer.state).toMatchObject({ status: 'signedIn', mode: 'bearer' });
    await bearer.refresh();
    await bearer.refresh();
    expect(held).toEqual(['app-a']);
    // Rotation: each refresh presents the token the previous one returned.
    expect(keycard.sent.slice(1).map((r) => r.variables)).toEqual([{ token: 'r1' }, { token: 'rotated-r1' }]);
  });

  test('a refresh answered UNAUTHENTICATED while signed in means signed out elsewhere', async () => {
    const keycard = fakeKeycard({ Refresh: () => unauthenticated('invalid or expired refresh token') });
    const s = session({ fetch: keycard.fetch });
    s.signIn(signedIn('cookie'));
    const seen: [SessionState, SessionState][] = [];
    s.subscribe((state, previous) => seen.push([state, previous]));

    await expect(s.refresh()).resolves.toBeNull();

    expect(s.state).toEqual({ status: 'signedOut', reason: 'revoked', generation: 2 });
    expect(s.accessToken()).toBeNull();
    expect(s.mayRefresh()).toBe(false);
    expect(s.needsRefresh()).toBe(false);
    expect(seen).toEqual([
      [
        { status: 'signedOut', reason: 'revoked', generation: 2 },
        { status: 'signedIn', mode: 'cookie', generation: 1 },
      ],
    ]);
  });

  test('a refresh answered UNAUTHENTICATED on a page load means there was no session', async () => {
    const keycard = fakeKeycard({ Refresh: () => unauthenticated() });
    const s = session({ fetch: keycard.fetch });
    await expect(s.refresh()).resolves.toBeNull();
    expect(s.state).toEqual({ status: 'signedOut', reason: 'none', generation: 0 });
  });

  test('a refresh answered ACCOUNT_DISABLED ends the session as disabled', async () => {
    const keycard = fakeKeycard({
      Refresh: () => ({ data: null, errors: [{ message: 'account disabled', extensions: { code: 'ACCOUNT_DISABLED' } }] }),
    });
    const s = session({ fetch: keycard.fetch });
    s.signIn(signedIn('cookie'));
    await s.refresh();
    expect(s.state).toMatchObject({ status: 'signedOut', reason: 'disabled' });
  });

  test.each<[string, Answer, (error: RefreshError) => void]>([
    [
      'RATE_LIMITED, with retryAfter',
      {
        data: null,
        errors: [{ message: 'too many attempts, retry later', extensions: { code: 'RATE_LIMITED', retryAfter: 7 } }],
      },
      (error) => expect(findError(error, 'RATE_LIMITED')?.retryAfter).toBe(7),
    ],
    [
      'RATE_LIMITED, retryAfter from the Retry-After header',
      { data: null, errors: [{ message: 'slow down', extensions: { code: 'RATE_LIMITED' } }], headers: { 'Retry-After': '12' } },
      (error) => expect(findError(error, 'RATE_LIMITED')?.retryAfter).toBe(12),
    ],
    [
      'UNAVAILABLE over HTTP 503',
      { status: 503, data: null, errors: [{ message: 'retry later', extensions: { code: 'UNAVAILABLE' } }] },
      (error) => expect(error.errors.map((e) => e.code)).toEqual(['UNAVAILABLE']),
    ],
    [
      'a proxy error page',
      { status: 502, text: '<html>Bad Gateway</html>' },
      (error) => expect(error.message).toBe('keycard answered the refresh with HTTP 502'),
    ],
    [
      'no connection',
      new TypeError('fetch failed'),
      (error) => {
        expect(error.message).toBe('Cannot reach keycard: fetch failed');
        expect(error.cause).toBeInstanceOf(TypeError);
      },
    ],
  ])('a refresh failing with %s rejects with RefreshError and keeps the session', async (_, answer, check) => {
    const keycard = fakeKeycard({ Refresh: () => answer });
    const s = session({ fetch: keycard.fetch });
    s.signIn(signedIn('cookie'));
    const before = s.state;
    const token = s.accessToken();

    const error = await s.refresh().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RefreshError);
    check(error as RefreshError);
    expect(s.state).toBe(before);
    expect(s.accessToken()).toBe(token);
  });

  test('a sign-out while a refresh is on its way stands', async () => {
    const answer = deferred<Answer>();
    const keycard = fakeKeycard({ Refresh: () => answer.promise });
    const s = session({ fetch: keycard.fetch });
    s.signIn(signedIn('cookie'));
    const refreshing = s.refresh();
    s.signOut();
    answer.resolve(tokens(null));
    await expect(refreshing).resolves.toBeNull();
    expect(s.state).toMatchObject({ status: 'signedOut', reason: 'logout' });
    expect(s.accessToken()).toBeNull();
  });

  test('a refresh that finds a session after a sign-out starts a new generation', async () => {
    const keycard = fakeKeycard({ Refresh: () => tokens(null) });
    const s = session({ fetch: keycard.fetch });
    s.signIn(signedIn('cookie'));
    s.signOut();
    const generation = s.state.generation;
    await s.refresh();
    expect(s.state).toEqual({ status: 'signedIn', mode: 'cookie', generation: generation + 1 });
  });
});

describe('expiry', () => {
  test('a token is refreshed 30 s before it expires, and never before a quarter of its life', () => {
    let now = 1_000_000;
    const keycard = fakeKeycard({});
    const s = session({ fetch: keycard.fetch, now: () => now });
    s.signIn({ accessToken: accessToken(), expiresIn: 900 });
    now += (900 - 31) * 1000;
    expect(s.needsRefresh()).toBe(false);
    now += 2000;
    expect(s.needsRefresh()).toBe(true);

    // A 20 s token (a test server's KEYCARD_ACCESS_TTL): refresh after 15 s, not before every request.
    s.signIn({ accessToken: accessToken(), expiresIn: 20 });
    now += 14_000;
    expect(s.needsRefresh()).toBe(false);
    now += 2000;
    expect(s.needsRefresh()).toBe(true);
  });

  test('the clock is read at each call, so a page that moves Date.now is believed', () => {
    const keycard = fakeKeycard({});
    const s = session({ fetch: keycard.fetch });
    s.signIn({ accessToken: accessToken(), expiresIn: 900 });
    expect(s.needsRefresh()).toBe(false);
    const realNow = Date.now();
    vi.spyOn(Date, 'now').mockReturnValue(realNow + 16 * 60 * 1000);
    expect(s.needsRefresh()).toBe(true);
  });
});

describe('modes', () => {
  test('a refreshToken in the payload means bearer mode; null or none means cookie mode', () => {
    const keycard = fakeKeycard({});
    const s = session({ fetch: keycard.fetch });
    s.signIn(signedIn('bearer', 'r1'));
    expect(s.state).toMatchObject({ status: 'signedIn', mode: 'bearer' });
    s.signIn({ accessToken: accessToken(), expiresIn: 900, refreshToken: null });
    expect(s.state).toMatchObject({ status: 'signedIn', mode: 'cookie' });
    s.signIn(signedIn('bearer', 'r2'));
    s.signIn({ accessToken: accessToken(), expiresIn: 900 });
    expect(s.state).toMatchObject({ status: 'signedIn', mode: 'cookie' });
  });

  test('every sign-in and sign-out starts a new generation', () => {
    const keycard = fakeKeycard({});
    const s = session({ fetch: keycard.fetch });
    s.signIn(signedIn('cookie'));
    expect(s.state.generation).toBe(1);
    s.signOut();
    expect(s.state).toEqual({ status: 'signedOut', reason: 'logout', generation: 2 });
    s.signOut('revoked'); // already signed out: nothing changes
    expect(s.state).toEqual({ status: 'signedOut', reason: 'logout', generation: 2 });
    s.signIn(signedIn('cookie'));
    s.signOut('revoked'); // what a session-events subscription says
    expect(s.state).toEqual({ status: 'signedOut', reason: 'revoked', generation: 4 });
  });

  test('claims are read from the access token', () => {
    const keycard = fakeKeycard({});
    const s = session({ fetch: keycard.fetch });
    expect(s.claims()).toBeNull();
    s.signIn({ accessToken: accessToken({ sid: 'session-7', roles: ['admin'] }), expiresIn: 900 });
    expect(s.claims()).toMatchObject({ sub: 'u1', sid: 'session-7', roles: ['admin'] });
    s.signIn({ accessToken: 'not-a-jwt', expiresIn: 900 });
    expect(s.claims()).toBeNull();
  });
});

describe('locks', () => {
  test('the Web Locks API when the browser has one', async () => {
    const request = vi.fn((_name: string, task: () => Promise<unknown>) => task());
    vi.stubGlobal('navigator', { locks: { request } });
    const lock = defaultLock();
    await expect(lock('keycard-session', async () => 42)).resolves.toBe(42);
    expect(request).toHaveBeenCalledWith('keycard-session', expect.any(Function));
  });

  test('without navigator.locks, callers in the page still take turns', async () => {
    vi.stubGlobal('navigator', {});
    const lock = defaultLock();
    const order: string[] = [];
    const first = deferred();
    const a = lock('n', async () => {
      order.push('a starts');
      await first.promise;
      order.push('a ends');
    });
    const b = lock('n', async () => {
      order.push('b runs');
    });
    const other = lock('other', async () => {
      order.push('other runs');
    });
    await other;
    first.resolve();
    await Promise.all([a, b]);
    expect(order).toEqual(['a starts', 'other runs', 'a ends', 'b runs']);
  });

  test('a failing task does not keep the in-page lock', async () => {
    const lock = inPageLock();
    await expect(lock('n', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(lock('n', async () => 'next')).resolves.toBe('next');
  });

  test('two tabs refreshing with one cookie at once take turns', async () => {
    const lock = inPageLock(); // stands for the Web Locks API every tab of the origin shares
    let inside = 0;
    let most = 0;
    const keycard = fakeKeycard({
      Refresh: async () => {
        inside += 1;
        most = Math.max(most, inside);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inside -= 1;
        return tokens(null);
      },
    });
    const tabA = session({ fetch: keycard.fetch, lock, broadcast: false });
    const tabB = session({ fetch: keycard.fetch, lock, broadcast: false });
    await Promise.all([tabA.refresh(), tabB.refresh()]);
    expect(keycard.names()).toEqual(['Refresh', 'Refresh']);
    expect(most).toBe(1);
  });
});

describe('tabs', () => {
  // Two session managers on one channel stand for two tabs of one origin;
  // each signs in as a reload does, with a refresh (which tells no one).
  async function twoTabs(refreshAnswers: Answer[] = []) {
    const answers = [tokens(null), tokens(null), ...refreshAnswers];
    const keycard = fakeKeycard({ Refresh: () => answers.shift() ?? unauthenticated() });
    const tabA = session({ fetch: keycard.fetch });
    const tabB = session({ fetch: keycard.fetch });
    await tabA.refresh();
    await tabB.refresh();
    expect([tabA.state.status, tabB.state.status]).toEqual(['signedIn', 'signedIn']);
    return { tabA, tabB };
  }

  test('a sign-out in one tab signs the other tabs out (cookie mode)', async () => {
    const { tabA, tabB } = await twoTabs();
    tabB.signOut();
    await vi.waitFor(() => expect(tabA.state).toMatchObject({ status: 'signedOut', reason: 'logout' }));
    expect(tabA.accessToken()).toBeNull();
  });

  test('a sign-in in one tab makes the other tabs find out who is signed in now', async () => {
    const { tabA, tabB } = await twoTabs();
    const generation = tabB.state.generation;
    tabA.signIn(signedIn('cookie'));
    await vi.waitFor(() => expect(tabB.state).toEqual({ status: 'unknown', generation: generation + 1 }));
    expect(tabB.accessToken()).toBeNull();
    expect(tabB.needsRefresh()).toBe(true);
  });

  test('a session found revoked in one tab shows as revoked in the others', async () => {
    const { tabA, tabB } = await twoTabs([unauthenticated('invalid or expired refresh token')]);
    await tabA.refresh();
    expect(tabA.state).toMatchObject({ status: 'signedOut', reason: 'revoked' });
    await vi.waitFor(() => expect(tabB.state).toMatchObject({ status: 'signedOut', reason: 'revoked' }));
  });

  test('bearer-mode tabs keep their own sessions', async () => {
    const keycard = fakeKeycard({});
    const tabA = session({ fetch: keycard.fetch });
    const tabB = session({ fetch: keycard.fetch });
    tabA.signIn(signedIn('bearer', 'ra'));
    tabB.signIn(signedIn('cookie'));
    tabB.signOut();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(tabA.state).toMatchObject({ status: 'signedIn', mode: 'bearer', generation: 1 });
  });

  test('broadcast: false keeps a tab to itself', async () => {
    const keycard = fakeKeycard({});
    const tabA = session({ fetch: keycard.fetch });
    const tabB = session({ fetch: keycard.fetch, broadcast: false });
    tabA.signIn(signedIn('cookie'));
    tabB.signIn(signedIn('cookie'));
    tabB.signOut();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(tabA.state).toMatchObject({ status: 'signedIn', generation: 1 });
  });
});
