// The Apollo Client 4 link: the same rules as the urql exchange, on a keycard session.
import { ApolloLink } from '@apollo/client';
import { defer, from, mergeMap, of, type Observable } from 'rxjs';
import { hasCode } from './errors.js';
import { issuesTokens } from './operations.js';
import type { Session } from './session.js';

/**
 * Adds `authorization: Bearer …` to every operation but the token-issuing
 * mutations (register, login, refresh, verifyMfa, …). Before an operation
 * is sent with no token yet (a page load) or one about to expire, it waits
 * for one refresh; when an operation answers UNAUTHENTICATED, it refreshes
 * and sends that operation once more. A failed refresh (RefreshError)
 * fails the operation with it; a session that ended elsewhere shows in
 * `session.state` as signed out, reason `revoked`.
 *
 * Put it before the HttpLink: `link: keycardAuthLink(session).concat(httpLink)`.
 */
export function keycardAuthLink(session: Session): ApolloLink {
  return new ApolloLink((operation, forward) => {
    if (operation.operationType === 'mutation' && issuesTokens(operation.query, operation.operationName)) {
      return forward(operation);
    }

    const send = (): Observable<ApolloLink.Result> => {
      const token = session.accessToken();
      operation.setContext(({ headers }: { headers?: Record<string, string> }) => {
        const { authorization: _previous, ...rest } = headers ?? {};
        return { headers: token ? { ...rest, authorization: `Bearer ${token}` } : rest };
      });
      return forward(operation);
    };

    return defer(async () => {
      if (session.needsRefresh()) await session.refresh();
    }).pipe(
      mergeMap(send),
      mergeMap((result, index) => {
        if (index === 0 && hasCode(result, 'ACCOUNT_DISABLED')) session.signOut('disabled');
        // Only the first answer may send the operation again, and only once.
        if (index === 0 && hasCode(result, 'UNAUTHENTICATED') && session.mayRefresh()) {
          return from(session.refresh()).pipe(mergeMap(send));
        }
        return of(result);
      }),
    );
  });
}
