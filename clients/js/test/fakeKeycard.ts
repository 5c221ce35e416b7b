// A scripted stand-in for keycard's /graphql in unit tests: answers each
// operation by name with what the test says, and records every request.
export interface SentRequest {
  operationName: string | undefined;
  query: string;
  variables: Record<string, unknown>;
  authorization: string | null;
  csrf: string | null;
  credentials: RequestCredentials | undefined;
}

export type Answer =
  | { data?: unknown; errors?: unknown[]; status?: number; headers?: Record<string, string> }
  | { text: string; status: number }
  | Error;

type Handler = (request: SentRequest) => Answer | Promise<Answer>;

export function fakeKeycard(handlers: Record<string, Handler>) {
  const sent: SentRequest[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const headers = new Headers(init?.headers);
    const url = new URL(String(input), 'http://keycard.test');
    const payload =
      (init?.method ?? 'GET') === 'GET'
        ? {
            operationName: url.searchParams.get('operationName') ?? undefined,
            query: url.searchParams.get('query') ?? '',
            variables: JSON.parse(url.searchParams.get('variables') ?? '{}'),
          }
        : JSON.parse(String(init?.body));
    const operationName = payload.operationName ?? /^\s*(?:query|mutation)\s+(\w+)/.exec(payload.query)?.[1];
    const entry: SentRequest = {
      operationName,
      query: payload.query,
      variables: payload.variables ?? {},
      authorization: headers.get('authorization'),
      csrf: headers.get('x-csrf-protection'),
      credentials: init?.credentials,
    };
    sent.push(entry);
    const handler = operationName ? handlers[operationName] : undefined;
    if (!handler) throw new Error(`fake keycard: no answer for ${operationName}`);
    const answer = await handler(entry);
    if (answer instanceof Error) throw answer;
    if ('text' in answer) return new Response(answer.text, { status: answer.status });
    const { status = 200, headers: extra = {}, ...body } = answer;
    return new Response(JSON.stringify(body), {
      status,
      headers: { 'Content-Type': 'application/json', ...extra },
    });
  };
  return { fetch, sent, names: () => sent.map((r) => r.operationName) };
}

export function unauthenticated(message = 'invalid or expired access token') {
  return { data: null, errors: [{ message, extensions: { code: 'UNAUTHENTICATED' } }] };
}

let counter = 0;

/** An unsigned JWT-shaped token whose payload carries `claims`; a new one each call. */
export function accessToken(claims: Record<string, unknown> = {}): string {
  counter += 1;
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'EdDSA', typ: 'at+jwt' })}.${encode({ sub: 'u1', sid: 's1', n: counter, ...claims })}.sig`;
}

export function tokens(refreshToken: string | null = null, expiresIn = 900) {
  return { data: { refresh: { accessToken: accessToken(), refreshToken, expiresIn } } };
}

/** A promise and the functions that settle it. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
