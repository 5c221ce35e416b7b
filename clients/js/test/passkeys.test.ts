import { describe, expect, test, vi } from 'vitest';
import {
  createPasskey,
  creationOptionsFromJSON,
  credentialToJSON,
  fromBase64url,
  getPasskey,
  passkeysSupported,
  requestOptionsFromJSON,
  toBase64url,
} from '../src/index.js';

// Options as keycard's beginPasskeyRegistration / beginPasskeyLogin send
// them: the publicKey member, binary values in unpadded base64url.
const creationJSON = JSON.stringify({
  rp: { name: 'keycard', id: 'localhost' },
  user: { name: 'alice', displayName: 'alice', id: 'AZDStAAAcACAAAAAAAAAAA' },
  challenge: 'q83v-_8A',
  pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
  timeout: 300000,
  excludeCredentials: [{ type: 'public-key', id: '_-8', transports: ['internal'] }],
  authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
  attestation: 'none',
});
const requestJSON = JSON.stringify({
  challenge: 'AAEC',
  timeout: 300000,
  rpId: 'localhost',
  allowCredentials: [{ type: 'public-key', id: 'BAUG' }],
  userVerification: 'required',
});

const bytes = (...values: number[]) => new Uint8Array(values);
const buffer = (...values: number[]) => bytes(...values).buffer;

describe('base64url', () => {
  test('round-trips every byte value without padding', () => {
    const all = new Uint8Array(256).map((_, i) => i);
    const text = toBase64url(all);
    expect(text).not.toMatch(/[+/=]/);
    expect(Array.from(fromBase64url(text))).toEqual(Array.from(all));
    expect(toBase64url(bytes(0xfb, 0xff))).toBe('-_8');
    expect(Array.from(fromBase64url('-_8='))).toEqual([0xfb, 0xff]);
  });

  test('reads a view into a larger buffer by its own bytes', () => {
    const view = new Uint8Array(buffer(9, 1, 2, 3, 9), 1, 3);
    expect(toBase64url(view)).toBe('AQID');
  });
});

describe('options', () => {
  test('creation options decode their binary members by hand when the browser cannot', () => {
    const options = creationOptionsFromJSON(creationJSON, undefined);
    expect(Array.from(new Uint8Array(options.challenge as ArrayBuffer))).toEqual([0xab, 0xcd, 0xef, 0xfb, 0xff, 0x00]);
    expect((options.user.id as Uint8Array).byteLength).toBe(16);
    expect(options.user.name).toBe('alice');
    expect(Array.from(options.excludeCredentials![0]!.id as Uint8Array)).toEqual([0xff, 0xef]);
    expect(options.excludeCredentials![0]!.transports).toEqual(['internal']);
    expect(options.authenticatorSelection).toEqual({ residentKey: 'required', requireResidentKey: true, userVerification: 'required' });
    expect(options.rp).toEqual({ name: 'keycard', id: 'localhost' });
  });

  test("request options decode theirs, and discoverable ones stay without a list", () => {
    const options = requestOptionsFromJSON(requestJSON, undefined);
    expect(Array.from(new Uint8Array(options.challenge as ArrayBuffer))).toEqual([0, 1, 2]);
    expect(Array.from(options.allowCredentials![0]!.id as Uint8Array)).toEqual([4, 5, 6]);
    expect(options.userVerification).toBe('required');
    const discoverable = requestOptionsFromJSON(JSON.stringify({ challenge: 'AAEC', rpId: 'localhost' }), undefined);
    expect(discoverable.allowCredentials).toBeUndefined();
  });

  test("the browser's own JSON parsers are used where they exist", () => {
    const parsed = { challenge: new ArrayBuffer(1) } as PublicKeyCredentialCreationOptions;
    const parseCreationOptionsFromJSON = vi.fn(() => parsed);
    expect(creationOptionsFromJSON(creationJSON, { parseCreationOptionsFromJSON })).toBe(parsed);
    expect(parseCreationOptionsFromJSON).toHaveBeenCalledWith(JSON.parse(creationJSON));
  });

  test('a {publicKey: …} wrapper is unwrapped', () => {
    const options = requestOptionsFromJSON(JSON.stringify({ publicKey: JSON.parse(requestJSON) }), undefined);
    expect(options.rpId).toBe('localhost');
  });

  test('what is not an options object is refused', () => {
    expect(() => creationOptionsFromJSON('[]', undefined)).toThrow(TypeError);
    expect(() => requestOptionsFromJSON('not json', undefined)).toThrow(SyntaxError);
  });
});

// A PublicKeyCredential as a browser without toJSON() returns it.
function attestationCredential() {
  return {
    id: 'AQID',
    rawId: buffer(1, 2, 3),
    type: 'public-key',
    authenticatorAttachment: 'platform',
    getClientExtensionResults: () => ({ credProps: { rk: true } }),
    response: {
      clientDataJSON: buffer(10),
      attestationObject: buffer(11),
      getAuthenticatorData: () => buffer(12),
      getTransports: () => ['internal', 'hybrid'],
      getPublicKey: () => buffer(13),
      getPublicKeyAlgorithm: () => -7,
    },
  } as unknown as PublicKeyCredential;
}

function assertionCredential(userHandle: ArrayBuffer | null) {
  return {
    id: 'AQID',
    rawId: buffer(1, 2, 3),
    type: 'public-key',
    authenticatorAttachment: null,
    getClientExtensionResults: () => ({}),
    response: { clientDataJSON: buffer(20), authenticatorData: buffer(21), signature: buffer(22), userHandle },
  } as unknown as PublicKeyCredential;
}

describe('credentialToJSON', () => {
  test('builds RegistrationResponseJSON by hand', () => {
    expect(JSON.parse(credentialToJSON(attestationCredential()))).toEqual({
      id: 'AQID',
      rawId: 'AQID',
      type: 'public-key',
      authenticatorAttachment: 'platform',
      clientExtensionResults: { credProps: { rk: true } },
      response: {
        clientDataJSON: 'Cg',
        attestationObject: 'Cw',
        authenticatorData: 'DA',
        transports: ['internal', 'hybrid'],
        publicKey: 'DQ',
        publicKeyAlgorithm: -7,
      },
    });
  });

  test('builds AuthenticationResponseJSON by hand, with the user handle when there is one', () => {
    const json = JSON.parse(credentialToJSON(assertionCredential(buffer(30, 31))));
    expect(json).toEqual({
      id: 'AQID',
      rawId: 'AQID',
      type: 'public-key',
      clientExtensionResults: {},
      response: { clientDataJSON: 'FA', authenticatorData: 'FQ', signature: 'Fg', userHandle: 'Hh8' },
    });
    expect(JSON.parse(credentialToJSON(assertionCredential(null))).response).not.toHaveProperty('userHandle');
  });

  test("uses the credential's own toJSON() where it has one", () => {
    const credential = { ...assertionCredential(null), toJSON: () => ({ id: 'from toJSON' }) } as unknown as PublicKeyCredential;
    expect(credentialToJSON(credential)).toBe('{"id":"from toJSON"}');
  });
});

describe('createPasskey and getPasskey', () => {
  test('run the ceremony with the decoded options and answer the JSON to send', async () => {
    const create = vi.fn(async () => attestationCredential());
    const get = vi.fn(async () => assertionCredential(buffer(1)));
    const env = { credentials: { create, get }, publicKeyCredential: {} };
    const controller = new AbortController();

    const registration = JSON.parse(await createPasskey(creationJSON, { ...env, signal: controller.signal }));
    expect(registration.response.attestationObject).toBe('Cw');
    const created = (create.mock.calls[0] as unknown as [CredentialCreationOptions])[0];
    expect(created.signal).toBe(controller.signal);
    expect(created.publicKey!.challenge).toBeInstanceOf(Uint8Array);

    const assertion = JSON.parse(await getPasskey(requestJSON, { ...env, mediation: 'conditional' }));
    expect(assertion.response.userHandle).toBe('AQ');
    const requested = (get.mock.calls[0] as unknown as [CredentialRequestOptions])[0];
    expect(requested.mediation).toBe('conditional');
    expect(requested.publicKey!.rpId).toBe('localhost');
  });

  test("the browser's refusal reaches the caller as it is", async () => {
    const cancelled = new DOMException('The operation either timed out or was not allowed.', 'NotAllowedError');
    const env = { credentials: { create: vi.fn(), get: vi.fn(async () => Promise.reject(cancelled)) }, publicKeyCredential: {} };
    await expect(getPasskey(requestJSON, env)).rejects.toBe(cancelled);
  });

  test('no credential from the browser is an error, not an empty credential', async () => {
    const env = { credentials: { create: vi.fn(async () => null), get: vi.fn() }, publicKeyCredential: {} };
    await expect(createPasskey(creationJSON, env)).rejects.toThrow(/no public key credential/);
  });

  test('passkeysSupported needs navigator.credentials and PublicKeyCredential', () => {
    expect(passkeysSupported({ credentials: { create: vi.fn(), get: vi.fn() }, publicKeyCredential: {} })).toBe(true);
    vi.stubGlobal('navigator', {});
    vi.stubGlobal('PublicKeyCredential', undefined);
    expect(passkeysSupported()).toBe(false);
  });
});
