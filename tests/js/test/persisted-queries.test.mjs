// Automatic persisted queries with the real clients: Apollo Client 4's
// PersistedQueryLink (POST, and GET for hashed queries) and urql's
// persistedExchange. Each first sends only the hash, gets
// PERSISTED_QUERY_NOT_FOUND, sends the query with it; a second client then
// gets its answer from the hash alone.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { SetContextLink } from '@apollo/client/link/context';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { Client, fetchExchange } from '@urql/core';
import { persistedExchange } from '@urql/exchange-persisted';

import { startKeycard, uniqueName } from '../lib/keycard.mjs';

const sha256 = (text) => createHash('sha256').update(text).digest('hex');
const password = 'correct horse battery staple';

const Register = gql`
  mutation Register($input: RegisterInput!) {
    register(input: $input) {
      accessToken
      user {
        username
      }
    }
  }
`;
const Me = gql`
  query Me {
    me {
      username
    }
  }
`;

/**
 * recordingFetch is fetch that remembers, per request, how it was sent and
 * what keycard answered.
 */
function recordingFetch() {
  const exchanges = [];
  const fetchAndRecord = async (input, init = {}) => {
    const url = new URL(typeof input === 'string' ? input : input.url);
    const method = (init.method ?? 'GET').toUpperCase();
    const sent = method === 'GET' ? Object.fromEntries(url.searchParams) : JSON.parse(init.body);
    const extensions = typeof sent.extensions === 'string' ? JSON.parse(sent.extensions) : sent.extensions;
    const response = await fetch(input, init);
    const answer = await response.clone().json();
    exchanges.push({
      method,
      withQuery: typeof sent.query === 'string' && sent.query.length > 0,
      query: sent.query,
      hash: extensions?.persistedQuery?.sha256Hash,
      status: response.status,
      code: answer.errors?.[0]?.extensions?.code,
      message: answer.errors?.[0]?.message,
    });
    return response;
  };
  return { fetch: fetchAndRecord, exchanges };
}

// The protocol as a client sees it: what each request carried and got.
const shape = (exchanges) => exchanges.map(({ method, withQuery, status, code }) => ({ method, withQuery, status, code: code ?? 'OK' }));
const miss = (method) => ({ method, withQuery: false, status: 200, code: 'PERSISTED_QUERY_NOT_FOUND' });
const sent = (method) => ({ method, withQuery: true, status: 200, code: 'OK' });
const hit = (method) => ({ method, withQuery: false, status: 200, code: 'OK' });

describe('automatic persisted queries', () => {
  let keycard;
  before(async () => {
    keycard = await startKeycard();
  });
  after(() => keycard?.stop());

  function apollo({ useGETForHashedQueries = false, token } = {}) {
    const recorder = recordingFetch();
    const auth = new SetContextLink(({ headers }) => ({
      headers: { ...headers, ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    }));
    const client = new ApolloClient({
      cache: new InMemoryCache(),
      link: ApolloLink.from([
        new PersistedQueryLink({ sha256, useGETForHashedQueries }),
        auth,
        new HttpLink({ uri: `${keycard.url}/graphql`, fetch: recorder.fetch }),
      ]),
    });
    return { client, exchanges: recorder.exchanges };
  }

  function urql({ token, enableForMutation = false } = {}) {
    const recorder = recordingFetch();
    const client = new Client({
      url: `${keycard.url}/graphql`,
      fetch: recorder.fetch,
      fetchOptions: () => ({ headers: token ? { Authorization: `Bearer ${token}` } : {} }),
      exchanges: [persistedExchange({ preferGetForPersistedQueries: true, enableForMutation }), fetchExchange],
      requestPolicy: 'network-only',
    });
    return { client, exchanges: recorder.exchanges };
  }

  test('Apollo: a mutation by hash misses, is sent once with its query, and registers exactly once', async () => {
    const username = uniqueName('apq_apollo');
    const first = apollo();
    const result = await first.client.mutate({ mutation: Register, variables: { input: { username, password } } });
    assert.equal(result.data.register.user.username, username);
    assert.deepEqual(shape(first.exchanges), [miss('POST'), sent('POST')]);
    assert.equal(first.exchanges[0].message, 'PersistedQueryNotFound');
    assert.equal(first.exchanges[1].hash, sha256(first.exchanges[1].query), 'the hash is of the text sent');

    // A second client (a new page) sends the hash alone and is answered:
    // here keycard refuses the name as taken, which proves the mutation
    // ran from the stored document.
    const second = apollo();
    const again = await second.client.mutate({ mutation: Register, variables: { input: { username, password } }, errorPolicy: 'all' });
    assert.equal(again.error?.errors?.[0]?.extensions?.code, 'USERNAME_TAKEN', JSON.stringify(again));
    assert.deepEqual(shape(second.exchanges), [{ ...hit('POST'), code: 'USERNAME_TAKEN' }]);
  });

  test('Apollo with useGETForHashedQueries: GET by hash, the query once over POST, then GET hits', async () => {
    const username = uniqueName('apq_apollo_get');
    const token = (await keycard.graphql(Register.loc.source.body, { input: { username, password } })).data.register.accessToken;

    const first = apollo({ useGETForHashedQueries: true, token });
    assert.equal((await first.client.query({ query: Me })).data.me.username, username);
    // Apollo sends the full query by POST, whatever the first method was.
    assert.deepEqual(shape(first.exchanges), [miss('GET'), sent('POST')]);

    const second = apollo({ useGETForHashedQueries: true, token });
    assert.equal((await second.client.query({ query: Me })).data.me.username, username);
    assert.deepEqual(shape(second.exchanges), [hit('GET')]);
  });

  test('urql: GET by hash, GET with the query, then GET hits', async () => {
    const username = uniqueName('apq_urql');
    const token = (await keycard.graphql(Register.loc.source.body, { input: { username, password } })).data.register.accessToken;
    // A document of its own: the Apollo tests registered Me already.
    const WhoAmI = gql`
      query WhoAmI {
        me {
          username
          roles
        }
      }
    `;

    const first = urql({ token });
    const result = await first.client.query(WhoAmI, {}).toPromise();
    assert.equal(result.error, undefined, String(result.error));
    assert.equal(result.data.me.username, username);
    assert.deepEqual(shape(first.exchanges), [miss('GET'), sent('GET')]);
    assert.equal(first.exchanges[0].message, 'PersistedQueryNotFound', 'the message urql looks for');

    const second = urql({ token });
    assert.equal((await second.client.query(WhoAmI, {}).toPromise()).data.me.username, username);
    assert.deepEqual(shape(second.exchanges), [hit('GET')]);
  });

  test('urql with enableForMutation: a mutation by hash over POST', async () => {
    const username = uniqueName('apq_urql_m');
    const Signup = gql`
      mutation Signup($input: RegisterInput!) {
        register(input: $input) {
          user {
            username
          }
        }
      }
    `;
    const first = urql({ enableForMutation: true });
    const result = await first.client.mutation(Signup, { input: { username, password } }).toPromise();
    assert.equal(result.error, undefined, String(result.error));
    assert.equal(result.data.register.user.username, username);
    assert.deepEqual(shape(first.exchanges), [miss('POST'), sent('POST')]);
  });
});
