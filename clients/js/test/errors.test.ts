import { CombinedGraphQLErrors, ServerError } from '@apollo/client/errors';
import { CombinedError } from '@urql/core';
import { describe, expect, test } from 'vitest';
import { RefreshError, errorCodes, findError, hasCode, keycardErrors, type KeycardError } from '../src/index.js';

const wire = [
  { message: 'password must be at least 8 characters', path: ['register'], extensions: { code: 'BAD_USER_INPUT', field: 'password' } },
  { message: 'email is already in use', extensions: { code: 'USERNAME_TAKEN', field: 'email' } },
  { message: 'too many attempts, retry later', extensions: { code: 'RATE_LIMITED', retryAfter: 30 } },
  { message: 'second factor required', extensions: { code: 'MFA_REQUIRED', ticket: 't-1', methods: ['totp', 'recovery'] } },
  { message: 'internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: 'req-9' } },
  { message: 'email address not verified', extensions: { code: 'EMAIL_NOT_VERIFIED' } },
  { message: 'account disabled', extensions: { code: 'ACCOUNT_DISABLED' } },
];

describe('keycardErrors', () => {
  test('reads every typed extension', () => {
    const errors = keycardErrors({ errors: wire });
    expect(errors.map(({ extensions: _, ...rest }) => rest)).toEqual([
      { code: 'BAD_USER_INPUT', field: 'password', message: 'password must be at least 8 characters', path: ['register'] },
      { code: 'USERNAME_TAKEN', field: 'email', message: 'email is already in use' },
      { code: 'RATE_LIMITED', retryAfter: 30, message: 'too many attempts, retry later' },
      { code: 'MFA_REQUIRED', ticket: 't-1', methods: ['totp', 'recovery'], message: 'second factor required' },
      { code: 'INTERNAL_SERVER_ERROR', requestId: 'req-9', message: 'internal server error' },
      { code: 'EMAIL_NOT_VERIFIED', message: 'email address not verified' },
      { code: 'ACCOUNT_DISABLED', message: 'account disabled' },
    ]);
    expect(errors[0]?.extensions).toEqual(wire[0]?.extensions);
  });

  test.each([
    ['urql CombinedError', new CombinedError({ graphQLErrors: wire })],
    ['Apollo 4 CombinedGraphQLErrors', new CombinedGraphQLErrors({ data: null, errors: wire })],
    ['Apollo 3 ApolloError', Object.assign(new Error('x'), { graphQLErrors: wire, networkError: null })],
    ['a result', { data: null, errors: wire }],
    ['an array', wire],
  ])('from %s', (_, error) => {
    expect(keycardErrors(error).map((e) => e.code)).toEqual(wire.map((e) => e.extensions.code));
  });

  test("from Apollo 4's ServerError: UNAVAILABLE arrives as HTTP 503", () => {
    const body = JSON.stringify({ data: null, errors: [{ message: 'retry later', extensions: { code: 'UNAVAILABLE' } }] });
    const error = new ServerError('Response not successful: Received status code 503', {
      response: new Response(body, { status: 503 }),
      bodyText: body,
    });
    expect(keycardErrors(error).map((e) => e.code)).toEqual(['UNAVAILABLE']);
    expect(hasCode(error, 'UNAVAILABLE')).toBe(true);
  });

  test('from a refresh that failed, also as the networkError of the operation that waited for it', () => {
    const refresh = new RefreshError('too many attempts', keycardErrors({ errors: [wire[2]] }));
    expect(findError(refresh, 'RATE_LIMITED')?.retryAfter).toBe(30);
    const urql = new CombinedError({ networkError: refresh });
    expect(findError(urql, 'RATE_LIMITED')?.retryAfter).toBe(30);
  });

  test('a network failure has none', () => {
    expect(keycardErrors(new CombinedError({ networkError: new TypeError('fetch failed') }))).toEqual([]);
    expect(keycardErrors(new TypeError('fetch failed'))).toEqual([]);
    expect(keycardErrors(undefined)).toEqual([]);
    expect(keycardErrors('oops')).toEqual([]);
  });

  test('an unknown or missing code counts as INTERNAL_SERVER_ERROR, keeping what was sent', () => {
    const [unknown, missing] = keycardErrors([{ message: 'new', extensions: { code: 'SOMETHING_NEW' } }, { message: 'bare' }]);
    expect(unknown).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', message: 'new', extensions: { code: 'SOMETHING_NEW' } });
    expect(missing).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', message: 'bare', extensions: {} });
  });

  test('malformed extensions are not believed', () => {
    const [rate, mfa] = keycardErrors([
      { message: 'x', extensions: { code: 'RATE_LIMITED', retryAfter: 'soon' } },
      { message: 'y', extensions: { code: 'MFA_REQUIRED', ticket: 5, methods: ['totp', 3] } },
    ]);
    expect(rate).toMatchObject({ code: 'RATE_LIMITED', retryAfter: undefined });
    expect(mfa).toMatchObject({ code: 'MFA_REQUIRED', ticket: '', methods: ['totp'] });
  });
});

describe('findError and hasCode', () => {
  test('findError narrows to the code', () => {
    const mfa = findError({ errors: wire }, 'MFA_REQUIRED');
    // Typed: ticket and methods exist on the result without a cast.
    const ticket: string | undefined = mfa?.ticket;
    expect([ticket, mfa?.methods]).toEqual(['t-1', ['totp', 'recovery']]);
    expect(findError({ errors: wire }, 'FORBIDDEN')).toBeUndefined();
  });

  test('hasCode', () => {
    expect(hasCode(new CombinedError({ graphQLErrors: wire }), 'EMAIL_NOT_VERIFIED')).toBe(true);
    expect(hasCode(new CombinedError({ graphQLErrors: wire }), 'UNAUTHENTICATED')).toBe(false);
  });

  test('every code is in the list', () => {
    const codes: readonly string[] = errorCodes;
    const all: KeycardError['code'][] = [
      'UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT', 'USERNAME_TAKEN', 'RATE_LIMITED', 'UNAVAILABLE',
      'INTERNAL_SERVER_ERROR', 'BAD_REQUEST', 'GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED',
      'PERSISTED_QUERY_NOT_FOUND', 'MFA_REQUIRED', 'EMAIL_NOT_VERIFIED', 'ACCOUNT_DISABLED',
    ];
    expect([...codes].sort()).toEqual([...all].sort());
  });
});

test("every code in keycard's graph/errors.go is typed here", async () => {
  const { readFile } = await import('node:fs/promises');
  const source = await readFile(new URL('../../../graph/errors.go', import.meta.url), 'utf8');
  const declared = [...source.matchAll(/\bCode\w+\s*=\s*"([A-Z_]+)"/g)].map((m) => m[1]);
  expect(declared.length).toBeGreaterThan(5);
  expect(errorCodes).toEqual(expect.arrayContaining(declared));
});
