import { Client, cacheExchange, fetchExchange, gql, type OperationResult } from '@urql/core';
import { afterEach, describe, expect, test } from 'vitest';
import { RefreshError, createSession, findError, hasCode, type Session } from '../src/index.js';
import { keycardAuthExchange } from '../src/urql.js';
import { accessToken, fakeKeycard, tokens, unauthenticated, type Answer } from './fakeKeycard.js';

const meQuery = gql`
  query Me {
    me {
      id
      username
    }
  }
`;
const loginMutation = gql`
  mutation Login($input: LoginInput!) {
    login(input: $input) {
      accessToken
      refreshToken
      expiresIn
    }
  }
`;
const logoutMutation = gql`
  mutation Logout {
    logout
  }
`;

const me = { data: { me: { __typename: 'User', id: 'u1', username: 'ada' } } };
const sessions: Session[] = [];
afterEach(() => {
  for (const s of sessions.splice(0)) s.dispose();
});

function setUp(handlers: Record<string, (request: { authorization: string | null }) => Answer>) {
  const keycard = fakeKeycard(handlers);
  const session = createSession({ url: 'http://keycard.test/graphql', fetch: keycard.fetch, broadcast: false });
  sessions.push(session);
  const client = new Client({
    url: 'http://keycard.test/graphql',
    fetch: keycard.fetch,
    requestPolicy: 'network-only',
    exchanges: [cacheExchange, keycardAuthExchange(session), fetchExchange],
  });
  return { keycard, session, client };
}

const bearer = (token: string | null | undefined) => (token ? `Bearer ${token}` : null);

describe('keycardAuthExchange', () => {
  test('a page load refreshes first, then sends the operation with the new token', async () => {
    let issued = '';
    const { keycard, client } = setUp({
      Refresh: () => {
        const answer = tokens(null);
        issued = answer.data.refresh.accessToken;
        return answer;
      },
      Me: () => me,
    });
    const result = await client.query(meQuery, {}).toPromise();
    expect(result.data?.me.username).toBe('ada');
    expect(keycard.names()).toEqual(['Refresh', 'Me']);
    expect(keycard.sent[1]?.authorization).toBe(bearer(issued));
  });

  test('operations waiting at once share one refresh', async () => {
    const { keycard, client } = setUp({ Refresh: () => tokens(null), Me: () => me, Logout: () => ({ data: { logout: true } }) });
    await Promise.all([client.query(meQuery, {}).toPromise(), client.mutation(logoutMutation, {}).toPromise()]);
    expect(keycard.names().sort()).toEqual(['Logout', 'Me', 'Refresh']);
  });

  test('an operation answered UNAUTHENTICATED is sent again once, after a refresh', async () => {
    let meCalls = 0;
    const { keycard, session, client } = setUp({
      Refresh: () => tokens(null),
      Me: () => (++meCalls === 1 ? unauthenticated('access token has been revoked') : me),
    });
    session.signIn({ accessToken: accessToken(), expiresIn: 900, refreshToken: null });
    const first = session.accessToken();
    const result = await client.query(meQuery, {}).toPromise();
    expect(result.error).toBeUndefined();
    expect(keycard.names()).toEqual(['Me', 'Refresh', 'Me']);
    expect(keycard.sent[0]?.authorization).toBe(bearer(first));
    expect(keycard.sent[2]?.authorization).toBe(bearer(session.accessToken()));
    expect(keycard.sent[2]?.authorization).not.toBe(bearer(first));
  });

  test('only once: a second UNAUTHENTICATED is the answer', async () => {
    const { keycard, session, client } = setUp({ Refresh: () => tokens(null), Me: () => unauthenticated() });
    session.signIn({ accessToken: accessToken(), expiresIn: 900 });
    const result = await client.query(meQuery, {}).toPromise();
    expect(hasCode(result.error, 'UNAUTHENTICATED')).toBe(true);
    expect(keycard.names()).toEqual(['Me', 'Refresh', 'Me']);
    expect(session.state.status).toBe('signedIn');
  });

  test('a session revoked elsewhere: the refresh fails, the state says revoked', async () => {
    const { keycard, session, client } = setUp({
      Refresh: () => unauthenticated('invalid or expired refresh token'),
      Me: () => unauthenticated('access token has been revoked'),
    });
    session.signIn({ accessToken: accessToken(), expiresIn: 900 });
    const result: OperationResult = await client.query(meQuery, {}).toPromise();
    expect(hasCode(result.error, 'UNAUTHENTICATED')).toBe(true);
    expect(session.state).toMatchObject({ status: 'signedOut', reason: 'revoked' });
    // Sent again without a token, and nothing more: no refresh loop.
    expect(keycard.names()).toEqual(['Me', 'Refresh', 'Me']);
    expect(keycard.sent[2]?.authorization).toBeNull();
    await client.query(meQuery, {}).toPromise();
    expect(keycard.names()).toEqual(['Me', 'Refresh', 'Me', 'Me']);
  });

  test('login is never held for a refresh, sent with a token, or retried', async () => {
    const { keycard, session, client } = setUp({
      Refresh: () => tokens(null),
      Login: () => unauthenticated('invalid username or password'),
    });
    const result = await client.mutation(loginMutation, { input: { username: 'ada', password: 'nope' } }).toPromise();
    expect(hasCode(result.error, 'UNAUTHENTICATED')).toBe(true);
    expect(keycard.names()).toEqual(['Login']);
    session.signIn({ accessToken: accessToken(), expiresIn: 900 });
    await client.mutation(loginMutation, { input: { username: 'ada', password: 'nope' } }).toPromise();
    expect(keycard.sent[1]?.authorization).toBeNull();
    expect(keycard.names()).toEqual(['Login', 'Login']);
  });

  test('a refresh keycard cannot answer fails the waiting operation with RefreshError', async () => {
    const { keycard, session, client } = setUp({
      Refresh: () => ({ data: null, errors: [{ message: 'too many attempts', extensions: { code: 'RATE_LIMITED', retryAfter: 9 } }] }),
      Me: () => me,
    });
    const result = await client.query(meQuery, {}).toPromise();
    expect(result.error?.networkError).toBeInstanceOf(RefreshError);
    expect(findError(result.error, 'RATE_LIMITED')?.retryAfter).toBe(9);
    expect(keycard.names()).toEqual(['Refresh']);
    expect(session.state.status).toBe('unknown');
  });

  test('ACCOUNT_DISABLED ends the session without a refresh', async () => {
    const { keycard, session, client } = setUp({
      Refresh: () => tokens(null),
      Me: () => ({ data: null, errors: [{ message: 'account disabled', extensions: { code: 'ACCOUNT_DISABLED' } }] }),
    });
    session.signIn({ accessToken: accessToken(), expiresIn: 900 });
    await client.query(meQuery, {}).toPromise();
    expect(keycard.names()).toEqual(['Me']);
    expect(session.state).toMatchObject({ status: 'signedOut', reason: 'disabled' });
  });

  test('signed out: operations go without a token and without a refresh', async () => {
    const { keycard, session, client } = setUp({ Refresh: () => tokens(null), Me: () => unauthenticated() });
    session.signIn({ accessToken: accessToken(), expiresIn: 900 });
    session.signOut();
    await client.query(meQuery, {}).toPromise();
    expect(keycard.names()).toEqual(['Me']);
    expect(keycard.sent[0]?.authorization).toBeNull();
  });
});
