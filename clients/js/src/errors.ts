// keycard's GraphQL errors, typed by extensions.code. Works on what urql and
// Apollo Client hand an application (urql's CombinedError, Apollo 4's
// CombinedGraphQLErrors and ServerError, Apollo 3's ApolloError), on a raw
// `{ errors }` result and on an array of GraphQL errors, without importing
// either client: each is recognised by its shape.

/** Every extensions.code keycard sends. */
export const errorCodes = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'USERNAME_TAKEN',
  'RATE_LIMITED',
  'UNAVAILABLE',
  'INTERNAL_SERVER_ERROR',
  'BAD_REQUEST',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'PERSISTED_QUERY_NOT_FOUND',
  'MFA_REQUIRED',
  'EMAIL_NOT_VERIFIED',
  'ACCOUNT_DISABLED',
] as const;

export type ErrorCode = (typeof errorCodes)[number];

interface ErrorBase<C extends ErrorCode> {
  code: C;
  /** keycard's message: written for people, never internals. */
  message: string;
  path?: readonly (string | number)[];
  /** extensions as sent, for anything not typed here. */
  extensions: Readonly<Record<string, unknown>>;
}

/** Validation failed; `field` names the input field at fault. */
export interface BadUserInputError extends ErrorBase<'BAD_USER_INPUT'> {
  field?: string;
}

/** register (or changeEmail) with a username or email already in use. */
export interface UsernameTakenError extends ErrorBase<'USERNAME_TAKEN'> {
  /** "username" or "email". */
  field?: string;
}

/** Too many attempts: wait `retryAfter` seconds (also sent as a Retry-After header). */
export interface RateLimitedError extends ErrorBase<'RATE_LIMITED'> {
  retryAfter?: number;
}

/** The password was right and a second factor is needed: call verifyMfa(ticket, code). */
export interface MfaRequiredError extends ErrorBase<'MFA_REQUIRED'> {
  /** Opaque, single use, valid for 5 minutes. */
  ticket: string;
  /** The second factors the account has, such as "totp". */
  methods: readonly string[];
}

/** Anything else went wrong on the server: quote `requestId` to whoever runs keycard. */
export interface InternalServerError extends ErrorBase<'INTERNAL_SERVER_ERROR'> {
  requestId?: string;
}

type DetailedCode = 'BAD_USER_INPUT' | 'USERNAME_TAKEN' | 'RATE_LIMITED' | 'MFA_REQUIRED' | 'INTERNAL_SERVER_ERROR';

/** One GraphQL error of keycard's, narrowed by `code`. */
export type KeycardError =
  | BadUserInputError
  | UsernameTakenError
  | RateLimitedError
  | MfaRequiredError
  | InternalServerError
  | { [C in Exclude<ErrorCode, DetailedCode>]: ErrorBase<C> }[Exclude<ErrorCode, DetailedCode>];

/** The error of the given code. */
export type KeycardErrorOf<C extends ErrorCode> = Extract<KeycardError, { code: C }>;

/**
 * A refresh failed for a reason other than a dead session (keycard
 * unreachable, rate limited, unavailable): the session may well be alive.
 * The operations that waited for the refresh fail with it; `errors` holds
 * keycard's answer, if there was one.
 */
export class RefreshError extends Error {
  readonly errors: readonly KeycardError[];

  constructor(message: string, errors: readonly KeycardError[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RefreshError';
    this.errors = errors;
  }
}

interface FormattedErrorLike {
  message?: unknown;
  path?: unknown;
  extensions?: unknown;
}

const knownCodes: ReadonlySet<string> = new Set(errorCodes);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Reads one GraphQL error. A code keycard does not send counts as INTERNAL_SERVER_ERROR. */
export function toKeycardError(error: FormattedErrorLike): KeycardError {
  const extensions = isRecord(error.extensions) ? error.extensions : {};
  const raw = extensions.code;
  const code: ErrorCode = typeof raw === 'string' && knownCodes.has(raw) ? (raw as ErrorCode) : 'INTERNAL_SERVER_ERROR';
  const message = typeof error.message === 'string' ? error.message : '';
  const base = {
    message,
    extensions,
    ...(Array.isArray(error.path) ? { path: error.path as (string | number)[] } : {}),
  };
  const text = (name: string) => (typeof extensions[name] === 'string' ? (extensions[name] as string) : undefined);
  switch (code) {
    case 'BAD_USER_INPUT':
    case 'USERNAME_TAKEN':
      return { ...base, code, field: text('field') };
    case 'RATE_LIMITED': {
      const seconds = Number(extensions.retryAfter);
      return { ...base, code, retryAfter: extensions.retryAfter != null && Number.isFinite(seconds) ? seconds : undefined };
    }
    case 'MFA_REQUIRED': {
      const methods = Array.isArray(extensions.methods)
        ? extensions.methods.filter((m): m is string => typeof m === 'string')
        : [];
      return { ...base, code, ticket: text('ticket') ?? '', methods };
    }
    case 'INTERNAL_SERVER_ERROR':
      return { ...base, code, requestId: text('requestId') };
    default:
      return { ...base, code };
  }
}

function formattedErrors(value: unknown): readonly FormattedErrorLike[] | undefined {
  if (Array.isArray(value)) return value.filter(isRecord);
  return undefined;
}

function errorsInBody(bodyText: unknown): readonly FormattedErrorLike[] {
  if (typeof bodyText !== 'string') return [];
  try {
    const body: unknown = JSON.parse(bodyText);
    return (isRecord(body) && formattedErrors(body.errors)) || [];
  } catch {
    return [];
  }
}

/**
 * keycard's errors in whatever a GraphQL client handed over, in order. Empty
 * for a plain network failure. A failed refresh (RefreshError, which urql
 * passes on as the networkError of the operations that waited) gives the
 * errors of the refresh, such as RATE_LIMITED with its retryAfter.
 */
export function keycardErrors(error: unknown): KeycardError[] {
  if (error instanceof RefreshError) return [...error.errors];
  if (!isRecord(error)) return [];
  // urql's CombinedError and Apollo 3's ApolloError.
  const graphQLErrors = formattedErrors(error.graphQLErrors);
  if (graphQLErrors && graphQLErrors.length > 0) return graphQLErrors.map(toKeycardError);
  // Apollo 4's CombinedGraphQLErrors, a `{ errors }` result, or a plain array.
  const errors = formattedErrors(error.errors) ?? formattedErrors(error);
  if (errors && errors.length > 0) return errors.map(toKeycardError);
  // Apollo 4's ServerError: a non-2xx answer, such as 503 for UNAVAILABLE.
  if (typeof error.bodyText === 'string') return errorsInBody(error.bodyText).map(toKeycardError);
  // urql's networkError, Apollo 3's networkError.
  for (const inner of [error.networkError, error.cause]) {
    if (inner instanceof RefreshError) return [...inner.errors];
    if (isRecord(inner) && typeof inner.bodyText === 'string') return errorsInBody(inner.bodyText).map(toKeycardError);
    if (isRecord(inner) && isRecord(inner.result)) {
      const fromResult = formattedErrors(inner.result.errors);
      if (fromResult) return fromResult.map(toKeycardError);
    }
  }
  return [];
}

/** The first error with this code, typed: `findError(e, 'MFA_REQUIRED')?.ticket`. */
export function findError<C extends ErrorCode>(error: unknown, code: C): KeycardErrorOf<C> | undefined {
  return keycardErrors(error).find((e): e is KeycardErrorOf<C> => e.code === code);
}

/** Whether any error has this code. */
export function hasCode(error: unknown, code: ErrorCode): boolean {
  return findError(error, code) !== undefined;
}
