// Accounts over the HTTP API (docs/api.md): who this browser is, register, sign in, sign out.
// Plain fetch wrappers, no DOM. The session is the HttpOnly cookie `parley_session`, which the
// browser keeps and sends by itself: no token ever passes through this code.
//
// Every function resolves (never rejects) with
//   { ok, status, user, code, message, retryAfter }
// user: {id, name} when the server says who it is; code and message: the server's error
// ({"code","message"}), or code "network" when the server could not be reached (status 0);
// retryAfter: seconds from the Retry-After header (rate_limited, overloaded), else null.

/** The seconds of a Retry-After header (delta-seconds or an HTTP date), or null. */
export function parseRetryAfter(value, now = Date.now()) {
  if (value == null || String(value).trim() === '') return null;
  const text = String(value).trim();
  if (/^\d+$/.test(text)) return Number(text);
  if (!/^[A-Za-z]{3}, /.test(text)) return null; // an HTTP date: "Sun, 06 Dec 2026 03:00:30 GMT"
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

async function call(method, path, body, fetchImpl) {
  const init = {
    method,
    headers: { 'Content-Type': 'application/json' },
    credentials: 'same-origin',
  };
  if (body !== undefined) init.body = JSON.stringify(body);
  let res;
  try {
    res = await (fetchImpl ?? globalThis.fetch)(`/api/${path}`, init);
  } catch {
    return {
      ok: false, status: 0, user: null, code: 'network',
      message: 'the server could not be reached; check the connection and try again',
      retryAfter: null,
    };
  }
  let data = null;
  try {
    const text = await res.text();
    if (text) data = JSON.parse(text);
  } catch { /* not JSON (a proxy's error page): described by the status below */ }
  if (!data || typeof data !== 'object') data = {};
  const retryAfter = parseRetryAfter(res.headers?.get?.('Retry-After'));
  const user = data.user && typeof data.user === 'object' && typeof data.user.name === 'string' ? data.user : null;
  if (res.ok) return { ok: true, status: res.status, user, code: null, message: null, retryAfter };
  return {
    ok: false,
    status: res.status,
    user: null,
    code: typeof data.code === 'string' ? data.code : `http_${res.status}`,
    message: typeof data.message === 'string' && data.message ? data.message : `the server answered ${res.status}`,
    retryAfter,
  };
}

/** GET /api/me: ok with user when this browser is signed in; 401 unauthorized when not. */
export function me({ fetch } = {}) {
  return call('GET', 'me', undefined, fetch);
}

/** POST /api/register: make an account and sign in (201 with user). */
export function register(name, password, { fetch } = {}) {
  return call('POST', 'register', { name, password }, fetch);
}

/** POST /api/login: sign in (200 with user; 401 bad_credentials; 429 rate_limited). */
export function login(name, password, { fetch } = {}) {
  return call('POST', 'login', { name, password }, fetch);
}

/** POST /api/logout: end this session (204; the server clears the cookie). */
export function logout({ fetch } = {}) {
  return call('POST', 'logout', undefined, fetch);
}

/** A server message as a sentence: "wrong name or password" → "Wrong name or password." */
export function sentence(message) {
  const text = String(message ?? '').trim();
  if (!text) return '';
  const first = text[0].toUpperCase() + text.slice(1);
  return /[.!?…]$/.test(first) ? first : `${first}.`;
}

/** What to tell a person about a failed call: the server's message, with the wait when there is one. */
export function errorText(result) {
  if (result.code === 'network') return 'Could not reach the server. Check the connection and try again.';
  if (result.code === 'rate_limited' && result.retryAfter != null) {
    return `Too many attempts: try again in ${result.retryAfter} s.`;
  }
  const text = sentence(result.message);
  if (result.retryAfter != null) return `${text} Try again in ${result.retryAfter} s.`;
  return text;
}
