import { Client, cacheExchange, fetchExchange } from '@urql/core';
import { keycardAuthExchange } from '@keycard/client/urql';
import type { Session } from '@keycard/client';
import { graphqlUrl } from './session';

/**
 * A fresh urql client for one signed-in (or signed-out) user. The auth
 * exchange adds the access token, refreshes it before it expires (or when
 * the page has none yet), and on UNAUTHENTICATED refreshes and sends the
 * operation once more.
 */
export function makeClient(session: Session): Client {
  return new Client({
    url: graphqlUrl,
    fetchOptions: {
      // Send and accept the refresh cookie, also when the API is on another origin.
      credentials: 'include',
      // keycard refuses mutations that come with the cookie but without this
      // header: a cross-site form cannot add it (CSRF).
      headers: { 'X-CSRF-Protection': '1' },
    },
    exchanges: [cacheExchange, keycardAuthExchange(session), fetchExchange],
  });
}
