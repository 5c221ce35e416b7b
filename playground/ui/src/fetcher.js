import { tokenPlaceholder } from './starting-document.js';

// The keycard that served this page: same origin, so the CSP's
// connect-src 'self' allows it, and the path works behind a prefix too.
const endpoint = new URL('graphql', document.baseURI).href;

// fetcher sends one operation to keycard. The browser adds the refresh
// cookie of cookie mode (same origin), and X-CSRF-Protection tells keycard
// that this page, not a cross-site form, sent it: without that header a
// mutation carrying the cookie is refused, so sign-in would work once and
// every mutation after it would not.
export async function fetcher(params, options = {}) {
  const headers = {
    'Content-Type': 'application/json',
    Accept: 'application/graphql-response+json, application/json',
    'X-CSRF-Protection': '1',
  };
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    // The template's placeholder is not a token.
    if (name.toLowerCase() === 'authorization' && String(value).trim() === tokenPlaceholder) continue;
    headers[name] = String(value);
  }
  const response = await fetch(endpoint, {
    method: 'POST',
    credentials: 'same-origin',
    headers,
    body: JSON.stringify(params),
  });
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return { errors: [{ message: `HTTP ${response.status}: ${text.slice(0, 200)}` }] };
  }
}
