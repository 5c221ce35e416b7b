// keycard's OAuth face through oauth4webapi, a strict standards client:
// RFC 8414 discovery (the issuer must be the URL the metadata is served
// from), the password grant as a generic token endpoint request, refresh, and
// RFC 7009 revocation.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as oauth from 'oauth4webapi';

import { startKeycard, uniqueName } from '../lib/keycard.mjs';

// keycard runs on plain HTTP on loopback in tests; oauth4webapi insists on
// HTTPS unless told otherwise.
const insecure = { [oauth.allowInsecureRequests]: true };
const password = 'correct horse battery staple';

describe('OAuth 2.0 with oauth4webapi', () => {
  let keycard;
  let as; // the authorization server's metadata, as discovered
  const client = { client_id: 'keycard-js-tests' };
  const clientAuth = oauth.None();
  const username = uniqueName('oauth');

  before(async () => {
    keycard = await startKeycard();
    const registered = await keycard.graphql('mutation($input: RegisterInput!) { register(input: $input) { user { id } } }', {
      input: { username, password },
    });
    assert.ok(registered.data?.register.user.id, JSON.stringify(registered));
  });
  after(() => keycard?.stop());

  test('discovery: the metadata names this server as issuer and its endpoints', async () => {
    const issuer = new URL(keycard.url);
    const response = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure });
    assert.equal(new URL(response.url).pathname, '/.well-known/oauth-authorization-server');
    as = await oauth.processDiscoveryResponse(issuer, response);
    assert.equal(as.token_endpoint, `${keycard.url}/oauth/token`);
    assert.equal(as.revocation_endpoint, `${keycard.url}/oauth/revoke`);
    assert.equal(as.jwks_uri, `${keycard.url}/.well-known/jwks.json`);
    assert.ok(as.grant_types_supported.includes('password'));
  });

  test('discovery refuses metadata of another issuer', async () => {
    // The check the metadata passed above is real: oauth4webapi compares
    // the issuer with the URL it asked.
    const elsewhere = new URL(keycard.url.replace('127.0.0.1', 'localhost'));
    const response = await oauth.discoveryRequest(elsewhere, { algorithm: 'oauth2', ...insecure });
    await assert.rejects(oauth.processDiscoveryResponse(elsewhere, response), (error) => error.code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED');
  });

  let tokens;

  test('password grant: tokens that sign in to the GraphQL API', async () => {
    const response = await oauth.genericTokenEndpointRequest(as, client, clientAuth, 'password', new URLSearchParams({ username, password }), insecure);
    tokens = await oauth.processGenericTokenEndpointResponse(as, client, response);
    assert.equal(tokens.token_type, 'bearer');
    assert.equal(typeof tokens.access_token, 'string');
    assert.equal(typeof tokens.refresh_token, 'string');
    assert.ok(tokens.expires_in > 0);
    const me = await keycard.graphql('{ me { username } }', {}, { Authorization: `Bearer ${tokens.access_token}` });
    assert.equal(me.data?.me.username, username, JSON.stringify(me));
  });

  test('password grant with a wrong password is invalid_grant', async () => {
    const response = await oauth.genericTokenEndpointRequest(as, client, clientAuth, 'password', new URLSearchParams({ username, password: 'not the password' }), insecure);
    await assert.rejects(oauth.processGenericTokenEndpointResponse(as, client, response), (error) => {
      assert.ok(error instanceof oauth.ResponseBodyError, String(error));
      assert.equal(error.error, 'invalid_grant');
      return true;
    });
  });

  test('refresh grant rotates; revocation ends the session', async () => {
    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token, insecure),
    );
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token);

    await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, clientAuth, refreshed.refresh_token, insecure));
    const afterRevocation = await oauth.refreshTokenGrantRequest(as, client, clientAuth, refreshed.refresh_token, insecure);
    await assert.rejects(oauth.processRefreshTokenResponse(as, client, afterRevocation), (error) => error.error === 'invalid_grant');
  });
});
