// The access token lives here, in memory only: never in localStorage,
// sessionStorage or a readable cookie, where any script injected into the
// page could read it. A reload forgets it; the auth exchange then gets a
// new one with the refresh cookie, which page scripts cannot read at all.

let accessToken: string | null = null;
let expiresAt = 0; // ms since the epoch

// Refresh a little before expiry, so a request is not sent with a token
// that expires on the way.
const expiryMarginMs = 30_000;

export interface Tokens {
  accessToken: string;
  /** Seconds until accessToken expires. */
  expiresIn: number;
}

export function currentAccessToken(): string | null {
  return accessToken;
}

/** True when there is no access token or it is about to expire. */
export function accessTokenExpiresSoon(now = Date.now()): boolean {
  return accessToken === null || now >= expiresAt - expiryMarginMs;
}

/** Keeps a token obtained by refresh; the user stays the same. */
export function setAccessToken(tokens: Tokens): void {
  accessToken = tokens.accessToken;
  expiresAt = Date.now() + tokens.expiresIn * 1000;
}

export function clearAccessToken(): void {
  accessToken = null;
  expiresAt = 0;
}

// The app starts over (a new urql client, so no cached data of one user is
// shown to the next) whenever someone signs in or out.
const listeners = new Set<() => void>();

export function onSignInOrOut(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** After register or login: keep the token and start over as the new user. */
export function signedIn(tokens: Tokens): void {
  setAccessToken(tokens);
  listeners.forEach((listener) => listener());
}

/** After logout, or when the session ended elsewhere. */
export function signedOut(): void {
  clearAccessToken();
  listeners.forEach((listener) => listener());
}
