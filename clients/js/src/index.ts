// @keycard/client: a session manager, typed errors and passkey helpers for
// keycard's GraphQL API. The urql exchange is in '@keycard/client/urql', the
// Apollo link in '@keycard/client/apollo'.
export {
  createSession,
  defaultLock,
  inPageLock,
  type AccessTokenClaims,
  type LockFunction,
  type Session,
  type SessionMode,
  type SessionOptions,
  type SessionState,
  type SignedOutReason,
  type Tokens,
} from './session.js';
export {
  RefreshError,
  errorCodes,
  findError,
  hasCode,
  keycardErrors,
  toKeycardError,
  type BadUserInputError,
  type ErrorCode,
  type InternalServerError,
  type KeycardError,
  type KeycardErrorOf,
  type MfaRequiredError,
  type RateLimitedError,
  type UsernameTakenError,
} from './errors.js';
export { issuesTokens, refreshDocument, tokenIssuingFields } from './operations.js';
export {
  createPasskey,
  creationOptionsFromJSON,
  credentialToJSON,
  fromBase64url,
  getPasskey,
  passkeysSupported,
  requestOptionsFromJSON,
  toBase64url,
  type GetPasskeyOptions,
  type PasskeyCallOptions,
  type PasskeyEnvironment,
  type PublicKeyCredentialStatics,
} from './passkeys.js';
