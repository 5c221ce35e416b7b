// The app's one keycard session (@keycard/client). The access token lives
// in it, in memory only: never in localStorage, sessionStorage or a readable
// cookie, where any script injected into the page could read it. A reload
// forgets it; the first operation then gets a new one with the refresh
// cookie, which page scripts cannot read at all.
//
// Everything the app shows about the session follows `session.state`:
// signed in (in cookie or bearer mode), or signed out and why. Whatever
// learns that the session ended says so with one call —
// `session.signOut('revoked')` — as a live session-events subscription
// will when keycard pushes the news instead of waiting for the next request.
import { createSession } from '@keycard/client';

/** Same-origin /graphql (Vite's proxy to keycard) unless VITE_GRAPHQL_URL says otherwise. */
export const graphqlUrl = import.meta.env.VITE_GRAPHQL_URL || '/graphql';

export const session = createSession({ url: graphqlUrl });
