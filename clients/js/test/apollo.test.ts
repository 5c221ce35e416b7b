import { ApolloClient, HttpLink, InMemoryCache, gql, type TypedDocumentNode } from '@apollo/client';
import { CombinedGraphQLErrors } from '@apollo/client/errors';
import { afterEach, describe, expect, test } from 'vitest';
import { RefreshError, createSession, findError, hasCode, type Session } from '../src/index.js';
import { keycardAuthLink } from '../src/apollo.js';
import { accessToken, fakeKeycard, tokens, unauthenticated, type Answer } from './fakeKeycard.js';

const meQuery: TypedDocumentNode<{ me: { id: string; username: string } }> = gql`
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

const me = { data: { me: { __typename: 'User', id: 'u1', username: 'ada' } } };
const sessions: Session[] = [];
afterEach(() => {
  for (const s of sessions.splice(0)) s.dispose();
});

function setUp(handlers: Record<string, () => Answer>) {
  const keycard = fakeKeycard(handlers);
  const session = createSession({ url: 'http://keycard.test/graphql', fetch: keycard.fetch, broadcast: false });
  sessions.push(session);
  const client = new ApolloClient({
    cache: new InMemoryCache(),
    link: keycardAuthLink(session).concat(
      new HttpLink({ uri: 'http://keycard.test/graphql', fetch: keycard.fetch, headers: { 'X-CSRF-Protection': '1' } }),
    ),
    defaultOptions: { query: { fetchPolicy: 'network-only' } },
  });
  return { keycard, session, client };
}

const bearer = (token: string | null) => (token ? `Bearer ${token}` : null);

describe('keycardAuthLink', () => {
  test('a page load refreshes first, then sends the operation with the new token', async () => {
    const { keycard, session, client } = setUp({ Refresh: () => tokens(null), Me: () => me });
    const result = await client.query({ query: meQuery });
    expect(result.data?.me.username).toBe('ada');
    expect(keycard.names()).toEqual(['Refresh', 'Me']);
    expect(keycard.sent[1]?.authorization).toBe(bearer(session.accessToken()));
    expect(keycard.sent[1]?.csrf).toBe('1');
  });

  test('operations waiting at once share one refresh', async () => {
    const { keycard, client } = setUp({ Refresh: () => tokens(null), Me: () => me });
    await Promise.all([
      client.query({ query: meQuery }),
      client.query({ query: meQuery, context: { fetchOptions: {} }, variables: { x: 1 } }),
    ]);
    expect(keycard.names().filter((n) => n === 'Refresh')).toEqual(['Refresh']);
  });

  test('an operation answered UNAUTHENTICATED is sent again once, after a refresh', async () => {
    let meCalls = 0;
    const { keycard, session, client } = setUp({
      Refresh: () => tokens(null),
      Me: () => (++meCalls === 1 ? unauthenticated('access token has been revoked') : me),
    });
    session.signIn({ accessToken: accessToken(), expiresIn: 900, refreshToken: null });
    const first = session.accessToken();
    const result = await client.query({ query: meQuery });
    expect(result.data?.me.username).toBe('ada');
    expect(keycard.names()).toEqual(['Me', 'Refresh', 'Me']);
    expect(keycard.sent[0]?.authorization).toBe(bearer(first));
    expect(keycard.sent[2]?.authorization).toBe(bearer(session.accessToken()));
    expect(keycard.sent[2]?.authorization).not.toBe(bearer(first));
  });

  test('only once: a second UNAUTHENTICATED is the answer', async () => {
    const { keycard, session, client } = setUp({ Refresh: () => tokens(null), Me: () => unauthenticated() });
    session.signIn({ accessToken: accessToken(), expiresIn: 900 });
    const error = await client.query({ query: meQuery }).then(
      (result) => result.error,
      (e: unknown) => e,
    );
    expect(CombinedGraphQLErrors.is(error)).toBe(true);
    expect(hasCode(error, 'UNAUTHENTICATED')).toBe(true);
    expect(keycard.names()).toEqual(['Me', 'Refresh', 'Me']);
  });

  test('a session revoked elsewhere: the refresh fails, the state says revoked', async () => {
    const { keycard, session, client } = setUp({
      Refresh: () => unauthenticated('invalid or expired refresh token'),
      Me: () => unauthenticated('access token has been revoked'),
    });
    session.signIn({ accessToken: accessToken(), expiresIn: 900 });
    const error = await client.query({ query: meQuery }).then(
      (result) => result.error,
      (e: unknown) => e,
    );
    expect(hasCode(error, 'UNAUTHENTICATED')).toBe(true);
    expect(session.state).toMatchObject({ status: 'signedOut', reason: 'revoked' });
    expect(keycard.names()).toEqual(['Me', 'Refresh', 'Me']);
    expect(keycard.sent[2]?.authorization).toBeNull();
  });

  test('login is never held for a refresh, sent with a token, or retried', async () => {
    const { keycard, session, client } = setUp({
      Refresh: () => tokens(null),
      Login: () => unauthenticated('invalid username or password'),
    });
    session.signIn({ accessToken: accessToken(), expiresIn: 900 });
    const error = await client
      .mutate({ mutation: loginMutation, variables: { input: { username: 'ada', password: 'nope' } } })
      .then(
        (result) => result.error,
        (e: unknown) => e,
      );
    expect(hasCode(error, 'UNAUTHENTICATED')).toBe(true);
    expect(keycard.names()).toEqual(['Login']);
    expect(keycard.sent[0]?.authorization).toBeNull();
  });

  test('a refresh keycard cannot answer fails the waiting operation with RefreshError', async () => {
    const { keycard, client } = setUp({
      Refresh: () => ({ status: 503, data: null, errors: [{ message: 'retry later', extensions: { code: 'UNAVAILABLE' } }] }),
      Me: () => me,
    });
    const error = await client.query({ query: meQuery }).then(
      (result) => result.error,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RefreshError);
    expect(findError(error, 'UNAVAILABLE')?.message).toBe('retry later');
    expect(keycard.names()).toEqual(['Refresh']);
  });
});
