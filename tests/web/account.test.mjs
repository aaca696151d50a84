// Unit tests of web/js/account.js, the browser's calls to the accounts API (docs/api.md),
// through a fake fetch: what is asked (path, method, headers, body, credentials) and how each
// answer (JSON, error body, Retry-After, no body, not JSON, no network) comes back.
// Plain Node, no browser, no server. Run: node tests/run.mjs web   (npm run test:web)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { me, register, login, logout, parseRetryAfter, sentence, errorText } from '../../web/js/account.js';

/** A fetch that records its calls and answers with `respond(url, init)` (a Response, or throws). */
function fakeFetch(respond) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, init });
    return respond(url, init);
  };
  return { fetch, calls };
}

const json = (status, body, headers = {}) => new Response(body === undefined ? null : JSON.stringify(body), {
  status, headers: { 'Content-Type': 'application/json', ...headers },
});

const ADA = { id: 'u_3f0c', name: 'ada' };

test('register: POST /api/register with the JSON body, same-origin credentials; 201 gives the user', async () => {
  const { fetch, calls } = fakeFetch(() => json(201, { user: ADA }));
  const r = await register('ada', 'correct horse', { fetch });
  assert.deepEqual(r, { ok: true, status: 201, user: ADA, code: null, message: null, retryAfter: null });
  assert.equal(calls.length, 1);
  assert.equal(calls[0].url, '/api/register');
  assert.deepEqual(calls[0].init, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    credentials: 'same-origin',
    body: '{"name":"ada","password":"correct horse"}',
  });
});

test('login: POST /api/login; no token is asked for or kept (the cookie is the session)', async () => {
  const { fetch, calls } = fakeFetch(() => json(200, { user: ADA }));
  const r = await login('ada', 'correct horse', { fetch });
  assert.equal(r.ok, true);
  assert.deepEqual(r.user, ADA);
  assert.equal(calls[0].url, '/api/login');
  assert.equal(calls[0].init.method, 'POST');
  assert.equal(calls[0].init.credentials, 'same-origin');
  assert.deepEqual(JSON.parse(calls[0].init.body), { name: 'ada', password: 'correct horse' });
  assert.equal('token' in r, false);
});

test('me: GET /api/me without a body; signed in → user, signed out → 401 unauthorized', async () => {
  let signedIn = true;
  const { fetch, calls } = fakeFetch(() => (signedIn
    ? json(200, { user: ADA })
    : json(401, { code: 'unauthorized', message: 'sign in first' })));
  assert.deepEqual(await me({ fetch }), { ok: true, status: 200, user: ADA, code: null, message: null, retryAfter: null });
  assert.equal(calls[0].url, '/api/me');
  assert.equal(calls[0].init.method, 'GET');
  assert.equal('body' in calls[0].init, false);
  assert.equal(calls[0].init.credentials, 'same-origin');
  signedIn = false;
  assert.deepEqual(await me({ fetch }), {
    ok: false, status: 401, user: null, code: 'unauthorized', message: 'sign in first', retryAfter: null,
  });
});

test('logout: POST /api/logout; 204 with no body is ok', async () => {
  const { fetch, calls } = fakeFetch(() => new Response(null, { status: 204 }));
  assert.deepEqual(await logout({ fetch }), { ok: true, status: 204, user: null, code: null, message: null, retryAfter: null });
  assert.equal(calls[0].url, '/api/logout');
  assert.equal(calls[0].init.method, 'POST');
  assert.equal(calls[0].init.credentials, 'same-origin');
  assert.equal('body' in calls[0].init, false);
});

test('errors: the JSON body gives code and message; Retry-After gives retryAfter in seconds', async () => {
  const answers = {
    '/api/login': json(401, { code: 'bad_credentials', message: 'wrong name or password' }),
    '/api/register': json(409, { code: 'name_taken', message: 'another account has this name, or one that looks like it' }),
  };
  const { fetch } = fakeFetch((url) => answers[url]);
  assert.deepEqual(await login('ada', 'nope nope', { fetch }), {
    ok: false, status: 401, user: null, code: 'bad_credentials', message: 'wrong name or password', retryAfter: null,
  });
  const taken = await register('Ada', 'correct horse', { fetch });
  assert.equal(taken.code, 'name_taken');
  assert.equal(taken.status, 409);

  const limited = fakeFetch(() => json(429, { code: 'rate_limited', message: 'too many attempts; wait before trying again' }, { 'Retry-After': '17' }));
  assert.deepEqual(await login('ada', 'guess guess', { fetch: limited.fetch }), {
    ok: false, status: 429, user: null, code: 'rate_limited', message: 'too many attempts; wait before trying again', retryAfter: 17,
  });
  const busy = fakeFetch(() => json(503, { code: 'overloaded', message: 'too many sign-ins at once; try again in a moment' }, { 'Retry-After': '1' }));
  const r = await register('ada', 'correct horse', { fetch: busy.fetch });
  assert.equal(r.code, 'overloaded');
  assert.equal(r.retryAfter, 1);
});

test('an answer that is not the API\'s JSON (a proxy page, an empty body) still comes back as an error', async () => {
  const html = fakeFetch(() => new Response('<html>Bad Gateway</html>', { status: 502, headers: { 'Content-Type': 'text/html' } }));
  assert.deepEqual(await me({ fetch: html.fetch }), {
    ok: false, status: 502, user: null, code: 'http_502', message: 'the server answered 502', retryAfter: null,
  });
  const empty = fakeFetch(() => new Response(null, { status: 404 }));
  const r = await login('ada', 'correct horse', { fetch: empty.fetch });
  assert.equal(r.ok, false);
  assert.equal(r.code, 'http_404');
  // A 200 without a user in it is ok, but names no one.
  const odd = fakeFetch(() => json(200, { user: 'ada' }));
  assert.equal((await me({ fetch: odd.fetch })).user, null);
});

test('no network: fetch rejects → status 0, code network; nothing throws', async () => {
  const { fetch } = fakeFetch(() => { throw new TypeError('Failed to fetch'); });
  for (const call of [() => me({ fetch }), () => login('ada', 'x', { fetch }), () => register('ada', 'x', { fetch }), () => logout({ fetch })]) {
    const r = await call();
    assert.equal(r.ok, false);
    assert.equal(r.status, 0);
    assert.equal(r.code, 'network');
    assert.equal(r.user, null);
    assert.equal(typeof r.message, 'string');
  }
});

test('without a fetch option the global fetch is used', async (t) => {
  const saved = globalThis.fetch;
  t.after(() => { globalThis.fetch = saved; });
  const { fetch, calls } = fakeFetch(() => json(200, { user: ADA }));
  globalThis.fetch = fetch;
  assert.deepEqual((await me()).user, ADA);
  assert.equal(calls[0].url, '/api/me');
});

test('parseRetryAfter: seconds or an HTTP date; anything else is null', () => {
  assert.equal(parseRetryAfter('17'), 17);
  assert.equal(parseRetryAfter(' 0 '), 0);
  assert.equal(parseRetryAfter(null), null);
  assert.equal(parseRetryAfter(''), null);
  assert.equal(parseRetryAfter('soon'), null);
  assert.equal(parseRetryAfter('-3'), null);
  const now = Date.parse('2026-12-06T03:00:00Z');
  assert.equal(parseRetryAfter('Sun, 06 Dec 2026 03:00:30 GMT', now), 30);
  assert.equal(parseRetryAfter('Sun, 06 Dec 2026 02:59:00 GMT', now), 0, 'a date past is now');
});

test('sentence and errorText: the server\'s message as a sentence, the wait spelled out', () => {
  assert.equal(sentence('wrong name or password'), 'Wrong name or password.');
  assert.equal(sentence('Already a sentence.'), 'Already a sentence.');
  assert.equal(sentence(''), '');
  assert.equal(errorText({ code: 'bad_credentials', message: 'wrong name or password', retryAfter: null }), 'Wrong name or password.');
  assert.equal(errorText({ code: 'bad_password', message: 'a password needs at least 8 characters', retryAfter: null }),
    'A password needs at least 8 characters.');
  assert.equal(errorText({ code: 'rate_limited', message: 'too many attempts; wait before trying again', retryAfter: 20 }),
    'Too many attempts: try again in 20 s.');
  assert.equal(errorText({ code: 'rate_limited', message: 'too many attempts; wait before trying again', retryAfter: null }),
    'Too many attempts; wait before trying again.');
  assert.equal(errorText({ code: 'overloaded', message: 'too many sign-ins at once; try again in a moment', retryAfter: 1 }),
    'Too many sign-ins at once; try again in a moment. Try again in 1 s.');
  assert.match(errorText({ code: 'network', status: 0, message: 'x', retryAfter: null }), /^Could not reach the server/);
});
