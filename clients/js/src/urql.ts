// The urql auth exchange: @urql/exchange-auth driven by a keycard session.
import { makeOperation, type Exchange, type Operation } from '@urql/core';
import { authExchange } from '@urql/exchange-auth';
import { hasCode } from './errors.js';
import { issuesTokens } from './operations.js';
import type { Session } from './session.js';

function obtainsTokens(operation: Operation): boolean {
  return operation.kind === 'mutation' && issuesTokens(operation.query);
}

// An operation sent again after a refresh that found no session still
// carries the token it first went with: take it off.
function withoutAuthorization(operation: Operation): Operation {
  const fetchOptions =
    typeof operation.context.fetchOptions === 'function'
      ? operation.context.fetchOptions()
      : (operation.context.fetchOptions ?? {});
  const headers = Object.fromEntries(new Headers(fetchOptions.headers));
  if (!('authorization' in headers)) return operation;
  delete headers.authorization;
  return makeOperation(operation.kind, operation, { ...operation.context, fetchOptions: { ...fetchOptions, headers } });
}

/**
 * Adds `Authorization: Bearer …` to every operation but the token-issuing
 * mutations (register, login, refresh, verifyMfa, …). Before an operation
 * is sent with no token yet (a page load) or one about to expire, it waits
 * for one refresh; when an operation answers UNAUTHENTICATED, it refreshes
 * and sends that operation once more. A refresh that finds no session
 * leaves the operations to go without a token; a session that ended
 * elsewhere shows in `session.state` as signed out, reason `revoked`.
 *
 * Put it before fetchExchange (and after cacheExchange):
 * `exchanges: [cacheExchange, keycardAuthExchange(session), fetchExchange]`.
 */
export function keycardAuthExchange(session: Session): Exchange {
  return authExchange(async (utils) => ({
    addAuthToOperation(operation) {
      const token = session.accessToken();
      if (obtainsTokens(operation)) return operation;
      if (!token) return withoutAuthorization(operation);
      return utils.appendHeaders(operation, { Authorization: `Bearer ${token}` });
    },
    willAuthError(operation) {
      return !obtainsTokens(operation) && session.needsRefresh();
    },
    didAuthError(error, operation) {
      if (obtainsTokens(operation)) return false;
      if (hasCode(error, 'ACCOUNT_DISABLED')) {
        session.signOut('disabled'); // a refresh cannot cure that
        return false;
      }
      return session.mayRefresh() && hasCode(error, 'UNAUTHENTICATED');
    },
    async refreshAuth() {
      // Rejects with RefreshError when keycard could not answer: the
      // operations that waited fail with it as their networkError.
      await session.refresh();
    },
  }));
}
