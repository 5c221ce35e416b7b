// Passkeys: the browser half of keycard's WebAuthn ceremonies. keycard's
// begin mutations answer `options`, the JSON of the `publicKey` member of
// what navigator.credentials.create()/get() take; its finish mutations take
// `credential`, the JSON of the PublicKeyCredential the browser returns.
// These helpers turn the one into the other, with the browser's own JSON
// methods where it has them (PublicKeyCredential.parseCreationOptionsFromJSON,
// parseRequestOptionsFromJSON, toJSON) and the same conversion by hand
// where it does not.

/** What createPasskey and getPasskey need of the browser; tests pass their own. */
export interface PasskeyEnvironment {
  /** Defaults to navigator.credentials. */
  credentials?: Pick<CredentialsContainer, 'create' | 'get'>;
  /** Defaults to the global PublicKeyCredential, if any. */
  publicKeyCredential?: PublicKeyCredentialStatics;
}

/** The JSON methods of the PublicKeyCredential interface, where a browser has them. */
export interface PublicKeyCredentialStatics {
  parseCreationOptionsFromJSON?: (options: unknown) => PublicKeyCredentialCreationOptions;
  parseRequestOptionsFromJSON?: (options: unknown) => PublicKeyCredentialRequestOptions;
}

export interface PasskeyCallOptions extends PasskeyEnvironment {
  /** Aborts the browser's dialog (a route change, a second attempt). */
  signal?: AbortSignal;
}

export interface GetPasskeyOptions extends PasskeyCallOptions {
  /** `conditional` offers passkeys in the username field's autofill (with `autocomplete="username webauthn"`). */
  mediation?: CredentialMediationRequirement;
}

/** Whether this browser can run passkey ceremonies at all. */
export function passkeysSupported(env: PasskeyEnvironment = {}): boolean {
  const credentials = env.credentials ?? globalThis.navigator?.credentials;
  return Boolean(credentials && (env.publicKeyCredential ?? globalPublicKeyCredential()));
}

/**
 * Runs navigator.credentials.create() with the options of
 * beginPasskeyRegistration and returns the credential JSON for
 * finishPasskeyRegistration. Rejects with the browser's DOMException when
 * the user cancels (NotAllowedError) or the authenticator already holds
 * one of the user's passkeys (InvalidStateError).
 */
export async function createPasskey(optionsJSON: string, options: PasskeyCallOptions = {}): Promise<string> {
  const publicKey = creationOptionsFromJSON(optionsJSON, options.publicKeyCredential ?? globalPublicKeyCredential());
  const credential = await credentialsOf(options).create({ publicKey, signal: options.signal });
  return credentialToJSON(asPublicKeyCredential(credential));
}

/**
 * Runs navigator.credentials.get() with the options of beginPasskeyLogin
 * and returns the credential JSON for finishPasskeyLogin. Rejects with the
 * browser's DOMException when the user cancels or has no passkey for the
 * site (NotAllowedError).
 */
export async function getPasskey(optionsJSON: string, options: GetPasskeyOptions = {}): Promise<string> {
  const publicKey = requestOptionsFromJSON(optionsJSON, options.publicKeyCredential ?? globalPublicKeyCredential());
  const request: CredentialRequestOptions = { publicKey, signal: options.signal };
  if (options.mediation) request.mediation = options.mediation;
  const credential = await credentialsOf(options).get(request);
  return credentialToJSON(asPublicKeyCredential(credential));
}

function globalPublicKeyCredential(): PublicKeyCredentialStatics | undefined {
  return (globalThis as { PublicKeyCredential?: PublicKeyCredentialStatics }).PublicKeyCredential;
}

function credentialsOf(env: PasskeyEnvironment): Pick<CredentialsContainer, 'create' | 'get'> {
  const credentials = env.credentials ?? globalThis.navigator?.credentials;
  if (!credentials) throw new Error('this browser has no navigator.credentials: passkeys are not supported');
  return credentials;
}

function asPublicKeyCredential(credential: Credential | null): PublicKeyCredential {
  if (!credential || credential.type !== 'public-key') {
    throw new Error('the browser returned no public key credential');
  }
  return credential as PublicKeyCredential;
}

/** Bytes as base64url without padding, as WebAuthn's JSON forms carry them. */
export function toBase64url(bytes: ArrayBuffer | ArrayBufferView): string {
  const view =
    bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let binary = '';
  for (const byte of view) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** base64url (padded or not) to bytes. */
export function fromBase64url(text: string): Uint8Array<ArrayBuffer> {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  const bytes = new Uint8Array(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

type DescriptorJSON = { type: PublicKeyCredentialType; id: string; transports?: AuthenticatorTransport[] };

function descriptors(list: DescriptorJSON[] | undefined): PublicKeyCredentialDescriptor[] | undefined {
  return list?.map((d) => ({ ...d, id: fromBase64url(d.id) }));
}

function parseOptions(optionsJSON: string): Record<string, unknown> {
  const parsed: unknown = JSON.parse(optionsJSON);
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new TypeError('passkey options are not a JSON object');
  // Accept the {publicKey: …} wrapper too, as some servers send it.
  const wrapped = (parsed as { publicKey?: unknown }).publicKey;
  return (wrapped && typeof wrapped === 'object' ? wrapped : parsed) as Record<string, unknown>;
}

/** keycard's creation options JSON as navigator.credentials.create() takes them. */
export function creationOptionsFromJSON(
  optionsJSON: string,
  statics: PublicKeyCredentialStatics | undefined = globalPublicKeyCredential(),
): PublicKeyCredentialCreationOptions {
  const json = parseOptions(optionsJSON);
  if (statics?.parseCreationOptionsFromJSON) return statics.parseCreationOptionsFromJSON(json);
  const o = json as unknown as Omit<PublicKeyCredentialCreationOptions, 'challenge' | 'user' | 'excludeCredentials'> & {
    challenge: string;
    user: { id: string; name: string; displayName: string };
    excludeCredentials?: DescriptorJSON[];
  };
  return {
    ...o,
    challenge: fromBase64url(o.challenge),
    user: { ...o.user, id: fromBase64url(o.user.id) },
    excludeCredentials: descriptors(o.excludeCredentials),
  };
}

/** keycard's request options JSON as navigator.credentials.get() takes them. */
export function requestOptionsFromJSON(
  optionsJSON: string,
  statics: PublicKeyCredentialStatics | undefined = globalPublicKeyCredential(),
): PublicKeyCredentialRequestOptions {
  const json = parseOptions(optionsJSON);
  if (statics?.parseRequestOptionsFromJSON) return statics.parseRequestOptionsFromJSON(json);
  const o = json as unknown as Omit<PublicKeyCredentialRequestOptions, 'challenge' | 'allowCredentials'> & {
    challenge: string;
    allowCredentials?: DescriptorJSON[];
  };
  return { ...o, challenge: fromBase64url(o.challenge), allowCredentials: descriptors(o.allowCredentials) };
}

/**
 * The credential's JSON, as finishPasskeyRegistration and finishPasskeyLogin
 * take it: its toJSON() where the browser has it, else the same fields
 * (RegistrationResponseJSON / AuthenticationResponseJSON) built by hand.
 */
export function credentialToJSON(credential: PublicKeyCredential): string {
  if (typeof credential.toJSON === 'function') return JSON.stringify(credential.toJSON());
  const response = credential.response;
  const common = {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment ?? undefined,
    clientExtensionResults: credential.getClientExtensionResults(),
  };
  if ('attestationObject' in response) {
    const attestation = response as AuthenticatorAttestationResponse;
    const publicKey = attestation.getPublicKey?.();
    return JSON.stringify({
      ...common,
      response: {
        clientDataJSON: toBase64url(attestation.clientDataJSON),
        attestationObject: toBase64url(attestation.attestationObject),
        authenticatorData: attestation.getAuthenticatorData ? toBase64url(attestation.getAuthenticatorData()) : undefined,
        transports: attestation.getTransports?.() ?? [],
        publicKey: publicKey ? toBase64url(publicKey) : undefined,
        publicKeyAlgorithm: attestation.getPublicKeyAlgorithm?.(),
      },
    });
  }
  const assertion = response as AuthenticatorAssertionResponse;
  return JSON.stringify({
    ...common,
    response: {
      clientDataJSON: toBase64url(assertion.clientDataJSON),
      authenticatorData: toBase64url(assertion.authenticatorData),
      signature: toBase64url(assertion.signature),
      userHandle: assertion.userHandle ? toBase64url(assertion.userHandle) : undefined,
    },
  });
}
