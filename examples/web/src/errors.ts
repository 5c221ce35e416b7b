import type { CombinedError } from '@urql/core';
import { RefreshError, keycardErrors, type ErrorCode } from '@keycard/client';

export interface Problem {
  code: ErrorCode | 'NETWORK';
  field?: string;
  message: string;
}

/** What to tell the user, one entry per error, by extensions.code. */
export function problems(error: CombinedError): Problem[] {
  const errors = keycardErrors(error);
  if (errors.length === 0 && error.networkError) {
    // A refresh that could not be made, or keycard out of reach.
    const reason = error.networkError instanceof RefreshError ? '' : 'Cannot reach keycard: ';
    return [{ code: 'NETWORK', message: reason + error.networkError.message }];
  }
  return errors.map((e): Problem => {
    switch (e.code) {
      case 'BAD_USER_INPUT':
        // keycard's validation messages are written for people.
        return { code: e.code, field: e.field, message: e.message };
      case 'USERNAME_TAKEN':
        return {
          code: e.code,
          field: e.field,
          message: e.field === 'email' ? 'That email is already in use.' : 'That username is taken.',
        };
      case 'RATE_LIMITED':
        return { code: e.code, message: `Too many attempts. Try again in ${e.retryAfter ?? 'a few'} seconds.` };
      case 'UNAVAILABLE':
        return { code: e.code, message: 'keycard is unavailable right now. Try again shortly.' };
      case 'MFA_REQUIRED':
        return { code: e.code, message: 'This account signs in with a second factor, which this example does not ask for.' };
      case 'EMAIL_NOT_VERIFIED':
        return { code: e.code, message: 'Confirm your email address first: follow the link keycard mailed you.' };
      case 'ACCOUNT_DISABLED':
        return { code: e.code, message: 'This account is disabled.' };
      case 'INTERNAL_SERVER_ERROR':
        return {
          code: e.code,
          message: `Something went wrong on the server${e.requestId ? ` (request ${e.requestId})` : ''}.`,
        };
      default:
        return { code: e.code, message: e.message };
    }
  });
}
