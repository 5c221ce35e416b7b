// The session manager: holds the access token in memory, refreshes it once
// however many operations ask at the same time, lets the tabs of one origin
// take turns with the refresh cookie, and says why a session ended.
import { RefreshError, keycardErrors, type KeycardError } from './errors.js';
import { refreshDocument } from './operations.js';

/**
 * Where the refresh token lives.
 * - `cookie`: keycard's httpOnly `keycard_refresh` cookie (KEYCARD_REFRESH_COOKIE=on);
 *   page scripts never see it, and a reload keeps the session.
 * - `bearer`: keycard answered with a `refreshToken`; it is kept in this
 *   session manager's memory only, so a reload ends the session.
 */
export type SessionMode = 'cookie' | 'bearer';

/**
 * Why there is no session.
 * - `none`: there was none to begin with (a page load without a live refresh cookie).
 * - `logout`: this app signed out (here or in another tab of the same origin).
 * - `revoked`: it ended elsewhere: signed out on another device (logout of
 *   all devices, the session revoked, the password changed) or expired.
 * - `disabled`: the account was disabled.
 */
export type SignedOutReason = 'none' | 'logout' | 'revoked' | 'disabled';

export type SessionState =
  /** Not known yet: nothing was asked of keycard since the page loaded. */
  | { status: 'unknown'; generation: number }
  | { status: 'signedIn'; mode: SessionMode; generation: number }
  | { status: 'signedOut'; reason: SignedOutReason; generation: number };

/** What register, login, refresh, verifyMfa and the like answer (AuthPayload). */
export interface Tokens {
  accessToken: string;
  /** Seconds until accessToken expires. */
  expiresIn: number;
  /** Select it: null in cookie mode, the refresh token in bearer mode. */
  refreshToken?: string | null;
}

/** Runs `task` while holding the lock `name`, shared by every tab of the origin if it can. */
export type LockFunction = <T>(name: string, task: () => Promise<T>) => Promise<T>;

export interface SessionOptions {
  /** keycard's GraphQL endpoint, such as `/graphql` or `https://auth.example.com/graphql`. */
  url: string;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Headers for the refresh request; `X-CSRF-Protection: 1` is always sent. */
  headers?: Record<string, string>;
  /** Defaults to `include`, so the refresh cookie travels to keycard on another origin too. */
  credentials?: RequestCredentials;
  /** Refresh this long before the access token expires (default 30 s, at most a quarter of its lifetime). */
  expiryMarginMs?: number;
  /** Give up on a refresh request after this long (default 20 s); the lock is then released. */
  refreshTimeoutMs?: number;
  /** Defaults to the Web Locks API, or to a lock within this page when there is none. */
  lock?: LockFunction;
  /**
   * Name of the lock and of the BroadcastChannel the tabs share; tabs of
   * apps that sign in to different keycards on one origin need different names.
   */
  channelName?: string;
  /** Tell the other tabs of the origin about sign-ins and sign-outs (cookie mode; default true). */
  broadcast?: boolean;
  /** Milliseconds since the epoch; defaults to Date.now(), read at each call. */
  now?: () => number;
}

/** Claims of an access token, read without verifying it (keycard and the API verify it). */
export interface AccessTokenClaims {
  sub?: string;
  sid?: string;
  exp?: number;
  iat?: number;
  roles?: string[];
  amr?: string[];
  [claim: string]: unknown;
}

export interface Session {
  /** The current state; a new object after every change. */
  readonly state: SessionState;
  /** Called after every change of state; returns the unsubscribe function. */
  subscribe(listener: (state: SessionState, previous: SessionState) => void): () => void;
  /** The access token to send, if any. */
  accessToken(): string | null;
  /** Claims of the current access token (such as `sid`, to tell one's own session in a list). */
  claims(): AccessTokenClaims | null;
  /**
   * Whether an operation should wait for a refresh before it is sent: the
   * session is not known yet (a page load), or the token is about to expire.
   */
  needsRefresh(): boolean;
  /** Whether an UNAUTHENTICATED answer may be cured by a refresh (there is or may be a session). */
  mayRefresh(): boolean;
  /**
   * Asks keycard for a new access token, once however many callers ask
   * at the same time. Resolves to the new access token, or null when there
   * is no session (the state then says why). Rejects with RefreshError when
   * keycard could not answer (unreachable, RATE_LIMITED, UNAVAILABLE); the
   * state is then left as it was.
   */
  refresh(): Promise<string | null>;
  /** After register, login, verifyMfa or resetPassword: keep the tokens; detects bearer mode. */
  signIn(tokens: Tokens): void;
  /**
   * The session ended: after logout (`logout`, the default), or when
   * keycard said so some other way (`revoked`, `disabled`: a live
   * session-events subscription calls this).
   */
  signOut(reason?: Exclude<SignedOutReason, 'none'>): void;
  /** Stops listening to the other tabs. */
  dispose(): void;
}

const defaultExpiryMarginMs = 30_000;
const defaultRefreshTimeoutMs = 20_000;

type TabMessage = { type: 'signedIn' } | { type: 'signedOut'; reason: SignedOutReason };

/** A lock within this JavaScript realm only: callers of the same name take turns. */
export function inPageLock(): LockFunction {
  const tails = new Map<string, Promise<unknown>>();
  return <T>(name: string, task: () => Promise<T>): Promise<T> => {
    const previous = tails.get(name) ?? Promise.resolve();
    const run = previous.then(task, task);
    const tail = run.catch(() => undefined);
    tails.set(name, tail);
    void tail.then(() => {
      if (tails.get(name) === tail) tails.delete(name);
    });
    return run;
  };
}

/**
 * The Web Locks API when the browser has it (secure contexts: https and
 * localhost), else a lock within this page. Without Web Locks, tabs do not
 * take turns: two of them refreshing with one cookie in the same moment
 * look like a stolen refresh token to keycard, which ends the session.
 */
export function defaultLock(): LockFunction {
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
  if (locks && typeof locks.request === 'function') {
    return <T>(name: string, task: () => Promise<T>) => locks.request(name, task) as Promise<T>;
  }
  return inPageLock();
}

function decodeClaims(token: string): AccessTokenClaims | null {
  const payload = token.split('.')[1];
  if (!payload) return null;
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return typeof claims === 'object' && claims !== null ? (claims as AccessTokenClaims) : null;
  } catch {
    return null;
  }
}

export function createSession(options: SessionOptions): Session {
  const fetchFn = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const now = options.now ?? (() => Date.now());
  const lock = options.lock ?? defaultLock();
  const channelName = options.channelName ?? 'keycard-session';
  const refreshTimeoutMs = options.refreshTimeoutMs ?? defaultRefreshTimeoutMs;

  let state: SessionState = { status: 'unknown', generation: 0 };
  let accessToken: string | null = null;
  let refreshToken: string | null = null; // bearer mode only
  let expiresAt = 0;
  let marginMs = 0;
  let inFlight: Promise<string | null> | null = null;
  const listeners = new Set<(state: SessionState, previous: SessionState) => void>();

  // Tabs of one origin share the refresh cookie, so they share its fate:
  // a sign-out in one tab ends the session of all, and a sign-in in one
  // replaces the cookie (maybe with another user's) under all.
  const channel =
    options.broadcast !== false && typeof BroadcastChannel === 'function' ? new BroadcastChannel(channelName) : null;
  (channel as { unref?: () => void } | null)?.unref?.(); // Node: do not keep the process alive
  if (channel) channel.onmessage = (event: MessageEvent<TabMessage>) => fromOtherTab(event.data);

  function setState(next: SessionState) {
    const previous = state;
    state = next;
    for (const listener of [...listeners]) listener(next, previous);
  }

  function keep(tokens: Tokens) {
    accessToken = tokens.accessToken;
    // A refresh token in the payload: keycard is not in cookie mode.
    refreshToken = typeof tokens.refreshToken === 'string' && tokens.refreshToken !== '' ? tokens.refreshToken : null;
    const lifetimeMs = tokens.expiresIn * 1000;
    expiresAt = now() + lifetimeMs;
    marginMs = Math.min(options.expiryMarginMs ?? defaultExpiryMarginMs, lifetimeMs / 4);
  }

  function forget() {
    accessToken = null;
    refreshToken = null;
    expiresAt = 0;
  }

  function mode(): SessionMode {
    return refreshToken !== null ? 'bearer' : 'cookie';
  }

  function fromOtherTab(message: TabMessage) {
    if (refreshToken !== null) return; // bearer mode: this tab's session is its own
    if (message.type === 'signedIn') {
      // The cookie is now another session's: find out whose at the next operation.
      forget();
      setState({ status: 'unknown', generation: state.generation + 1 });
    } else if (state.status !== 'signedOut') {
      forget();
      setState({ status: 'signedOut', reason: message.reason, generation: state.generation + 1 });
    }
  }

  function ended(reason: SignedOutReason) {
    const hadSession = state.status === 'signedIn';
    const sharedCookie = mode() === 'cookie';
    forget();
    if (state.status === 'signedOut') return;
    const why = hadSession ? reason : 'none';
    // Nobody was signed in (a page load found no session): nothing shown or
    // cached belongs to a user, so the same generation goes on.
    setState({ status: 'signedOut', reason: why, generation: hadSession ? state.generation + 1 : state.generation });
    if (sharedCookie && why !== 'none') channel?.postMessage({ type: 'signedOut', reason: why } satisfies TabMessage);
  }

  async function post(token: string | null): Promise<{ status: number; body: unknown; retryAfter: string | null }> {
    const response = await fetchFn(options.url, {
      method: 'POST',
      credentials: options.credentials ?? 'include',
      headers: {
        ...options.headers,
        'Content-Type': 'application/json',
        Accept: 'application/graphql-response+json, application/json',
        // keycard refuses a cookie-carrying mutation without it (CSRF).
        'X-CSRF-Protection': '1',
      },
      body: JSON.stringify({ operationName: 'Refresh', query: refreshDocument, variables: token ? { token } : {} }),
      signal: AbortSignal.timeout(refreshTimeoutMs),
    });
    const text = await response.text();
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch {
      // not GraphQL: a proxy's error page
    }
    return { status: response.status, body, retryAfter: response.headers.get('Retry-After') };
  }

  async function refreshOnce(): Promise<string | null> {
    const startedIn = state.generation;
    const token = refreshToken;
    let answer: Awaited<ReturnType<typeof post>>;
    try {
      // Bearer mode: the refresh token is this tab's own, no other tab can
      // present it. Cookie mode: every tab sends the same cookie, and keycard
      // takes a second use of a rotated refresh token for theft (it ends the
      // session), so the tabs take turns; the next one sends the rotated cookie.
      answer = token ? await post(token) : await lock(channelName, () => post(null));
    } catch (error) {
      throw new RefreshError(`Cannot reach keycard: ${error instanceof Error ? error.message : String(error)}`, [], {
        cause: error,
      });
    }
    // Signed in or out while the refresh was on its way: that decision stands.
    if (state.generation !== startedIn) return accessToken;

    const body = answer.body as { data?: { refresh?: Tokens | null } | null; errors?: unknown } | null;
    const tokens = body?.data?.refresh;
    if (tokens && typeof tokens.accessToken === 'string') {
      keep(tokens);
      if (state.status !== 'signedIn' || state.mode !== mode()) {
        // From unknown (a page load) the same user goes on; from signed out
        // the cookie brought a session back, maybe another user's.
        const next = state.status === 'signedOut' ? state.generation + 1 : state.generation;
        setState({ status: 'signedIn', mode: mode(), generation: next });
      }
      return accessToken;
    }
    const errors = keycardErrors(body);
    if (errors.some((e) => e.code === 'ACCOUNT_DISABLED')) {
      ended('disabled');
      return null;
    }
    if (errors.some((e) => e.code === 'UNAUTHENTICATED')) {
      // No session behind the cookie or token: never was one (a page load),
      // or it ended elsewhere (logged out of all devices, revoked, expired).
      ended('revoked');
      return null;
    }
    throw refreshFailure(answer.status, errors, answer.retryAfter);
  }

  return {
    get state() {
      return state;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    accessToken() {
      return accessToken;
    },
    claims() {
      return accessToken ? decodeClaims(accessToken) : null;
    },
    needsRefresh() {
      if (state.status === 'unknown') return true;
      return state.status === 'signedIn' && (accessToken === null || now() >= expiresAt - marginMs);
    },
    mayRefresh() {
      return state.status !== 'signedOut';
    },
    refresh() {
      inFlight ??= refreshOnce().finally(() => {
        inFlight = null;
      });
      return inFlight;
    },
    signIn(tokens) {
      keep(tokens);
      setState({ status: 'signedIn', mode: mode(), generation: state.generation + 1 });
      if (mode() === 'cookie') channel?.postMessage({ type: 'signedIn' } satisfies TabMessage);
    },
    signOut(reason = 'logout') {
      ended(reason);
    },
    dispose() {
      channel?.close();
      listeners.clear();
    },
  };
}

function refreshFailure(status: number, errors: KeycardError[], retryAfterHeader: string | null): RefreshError {
  if (errors.length === 0) return new RefreshError(`keycard answered the refresh with HTTP ${status}`);
  // Retry-After is there even when a proxy dropped the extensions.
  const seconds = Number(retryAfterHeader);
  const withRetry = errors.map((e) =>
    e.code === 'RATE_LIMITED' && e.retryAfter === undefined && Number.isFinite(seconds) && retryAfterHeader
      ? { ...e, retryAfter: seconds }
      : e,
  );
  return new RefreshError(withRetry.map((e) => e.message).join(' '), withRetry);
}
