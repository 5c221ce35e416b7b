import { Client, cacheExchange, fetchExchange, type Operation } from '@urql/core';
import { authExchange } from '@urql/exchange-auth';
import { RefreshError, hasCode, problems } from './errors';
import { refreshMutation } from './operations';
import {
  accessTokenExpiresSoon,
  clearAccessToken,
  currentAccessToken,
  setAccessToken,
  signedOut,
} from './session';

/** Same-origin /graphql (Vite's proxy to keycard) unless VITE_GRAPHQL_URL says otherwise. */
export const graphqlUrl = import.meta.env.VITE_GRAPHQL_URL || '/graphql';

// These mutations obtain tokens instead of using them: they are never held
// back for a refresh, and their UNAUTHENTICATED (a wrong password, a dead
// refresh cookie) is an answer, not a reason to refresh.
const tokenIssuingFields = new Set(['register', 'login', 'refresh']);

function issuesTokens(operation: Operation): boolean {
  return (
    operation.kind === 'mutation' &&
    operation.query.definitions.some(
      (definition) =>
        definition.kind === 'OperationDefinition' &&
        definition.selectionSet.selections.some(
          (selection) => selection.kind === 'Field' && tokenIssuingFields.has(selection.name.value),
        ),
    )
  );
}

// Two tabs must not present the same refresh cookie at once: keycard takes
// the second use of a rotated refresh token as theft and ends the session.
// The Web Locks API makes the tabs of this origin take turns; the second
// one then sends the cookie the first one's refresh rotated.
function oneRefreshAtATime<T>(refresh: () => Promise<T>): Promise<T> {
  return navigator.locks ? navigator.locks.request('keycard-refresh', refresh) : refresh();
}

export function makeClient(): Client {
  return new Client({
    url: graphqlUrl,
    fetchOptions: {
      // Send and accept the refresh cookie, also when the API is on another origin.
      credentials: 'include',
      // keycard refuses mutations that come with the cookie but without this
      // header: a cross-site form cannot add it (CSRF).
      headers: { 'X-CSRF-Protection': '1' },
    },
    exchanges: [
      cacheExchange,
      authExchange(async (utils) => ({
        addAuthToOperation(operation) {
          const token = currentAccessToken();
          if (!token || issuesTokens(operation)) return operation;
          return utils.appendHeaders(operation, { Authorization: `Bearer ${token}` });
        },
        // Before sending: no token yet (a page load) or about to expire.
        willAuthError(operation) {
          return !issuesTokens(operation) && accessTokenExpiresSoon();
        },
        // After an answer: the token was revoked or expired on the way.
        didAuthError(error, operation) {
          return !issuesTokens(operation) && hasCode(error, 'UNAUTHENTICATED');
        },
        // refresh with no argument: keycard reads the httpOnly cookie and
        // sets a rotated one. The operations that waited are then sent
        // again, once, with the new token, or without one if there is no
        // session (they answer UNAUTHENTICATED and the app shows sign-in).
        async refreshAuth() {
          const hadSession = currentAccessToken() !== null;
          const result = await oneRefreshAtATime(() => utils.mutate(refreshMutation, {}));
          if (result.data) {
            setAccessToken(result.data.refresh);
            return;
          }
          if (result.error && !hasCode(result.error, 'UNAUTHENTICATED')) {
            // keycard down or rate limiting: the session may well be alive,
            // so fail the waiting operations with the reason instead.
            throw new RefreshError(problems(result.error).map((p) => p.message).join(' '));
          }
          if (hadSession) {
            signedOut(); // ended elsewhere: logged out of all devices, revoked, expired
          } else {
            clearAccessToken();
          }
        },
      })),
      fetchExchange,
    ],
  });
}
