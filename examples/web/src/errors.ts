import type { CombinedError } from '@urql/core';

/** keycard's extensions.code values (see API.md, "Errors"). */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'USERNAME_TAKEN'
  | 'RATE_LIMITED'
  | 'UNAVAILABLE'
  | 'INTERNAL_SERVER_ERROR'
  | 'BAD_REQUEST'
  | 'GRAPHQL_VALIDATION_FAILED';

interface KeycardExtensions {
  code?: ErrorCode;
  /** BAD_USER_INPUT and USERNAME_TAKEN: the input field at fault. */
  field?: string;
  /** RATE_LIMITED: seconds to wait. */
  retryAfter?: number;
  /** INTERNAL_SERVER_ERROR: quote it to whoever runs keycard. */
  requestId?: string;
}

export interface Problem {
  code: ErrorCode | 'NETWORK';
  field?: string;
  message: string;
}

/** The refresh that an operation waited for failed, for a reason other than a dead session. */
export class RefreshError extends Error {}

export function hasCode(error: CombinedError | undefined, code: ErrorCode): boolean {
  return !!error?.graphQLErrors.some((e) => (e.extensions as KeycardExtensions).code === code);
}

/** What to tell the user, one entry per error, by extensions.code. */
export function problems(error: CombinedError): Problem[] {
  if (error.networkError instanceof RefreshError) {
    return [{ code: 'NETWORK', message: error.networkError.message }];
  }
  if (error.networkError) {
    return [{ code: 'NETWORK', message: `Cannot reach keycard: ${error.networkError.message}` }];
  }
  return error.graphQLErrors.map((e) => {
    const { code = 'INTERNAL_SERVER_ERROR', field, retryAfter, requestId } = e.extensions as KeycardExtensions;
    switch (code) {
      case 'BAD_USER_INPUT':
        // keycard's validation messages are written for people.
        return { code, field, message: e.message };
      case 'USERNAME_TAKEN':
        return {
          code,
          field,
          message: field === 'email' ? 'That email is already in use.' : 'That username is taken.',
        };
      case 'RATE_LIMITED':
        return { code, message: `Too many attempts. Try again in ${retryAfter ?? 'a few'} seconds.` };
      case 'UNAVAILABLE':
        return { code, message: 'keycard is unavailable right now. Try again shortly.' };
      case 'INTERNAL_SERVER_ERROR':
        return { code, message: `Something went wrong on the server${requestId ? ` (request ${requestId})` : ''}.` };
      default:
        return { code, message: e.message };
    }
  });
}
