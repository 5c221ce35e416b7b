// What the exchange and the link need to know about an operation. Reads the
// parsed document as plain data, so neither graphql nor a client is imported.
import type { DocumentNode } from 'graphql';

/**
 * Mutations that obtain tokens instead of using them. They are never held
 * back for a refresh and never sent with an access token, and their
 * UNAUTHENTICATED (a wrong password, a dead refresh token, a wrong second
 * factor) is an answer, not a reason to refresh.
 */
export const tokenIssuingFields: ReadonlySet<string> = new Set([
  'register',
  'login',
  'refresh',
  'verifyMfa',
  'resetPassword',
  'finishPasskeyLogin',
]);

/** Whether the operation is a mutation that obtains tokens (see tokenIssuingFields). */
export function issuesTokens(document: DocumentNode, operationName?: string | null): boolean {
  return document.definitions.some(
    (definition) =>
      definition.kind === 'OperationDefinition' &&
      definition.operation === 'mutation' &&
      (!operationName || !definition.name || definition.name.value === operationName) &&
      definition.selectionSet.selections.some(
        (selection) => selection.kind === 'Field' && tokenIssuingFields.has(selection.name.value),
      ),
  );
}

/**
 * The session manager's own request. `token` is the refresh token in bearer
 * mode; without it keycard reads the httpOnly refresh cookie.
 */
export const refreshDocument = /* GraphQL */ `
  mutation Refresh($token: String) {
    refresh(token: $token) {
      accessToken
      refreshToken
      expiresIn
    }
  }
`;
