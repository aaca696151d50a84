// The admin API (docs/api.md, "Admin API") from the console: the session cookie is the
// credential (same origin), every answer resolves to { ok, status, code, message, body }.

async function call(method, path) {
  let res;
  try {
    res = await fetch(`/api/admin/${path}`, {
      method,
      headers: { 'Content-Type': 'application/json' },
      credentials: 'same-origin',
    });
  } catch {
    return { ok: false, status: 0, code: 'network', message: 'the server could not be reached', body: null };
  }
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  return {
    ok: res.ok,
    status: res.status,
    code: body?.code ?? null,
    message: body?.message ?? (res.ok ? '' : `HTTP ${res.status}`),
    body,
  };
}

const seg = (s) => encodeURIComponent(String(s));

export const adminApi = {
  deleteRoom: (room) => call('DELETE', `rooms/${seg(room)}`),
  // Built on another branch (message deletion): a 404 `not_found` means this server lacks it.
  deleteMessage: (room, seq) => call('DELETE', `rooms/${seg(room)}/messages/${seg(seq)}`),
  disconnect: (user) => call('POST', `users/${seg(user)}/disconnect`),
  ban: (user) => call('POST', `users/${seg(user)}/ban`),
  unban: (user) => call('POST', `users/${seg(user)}/unban`),
  drain: (node) => call('POST', `nodes/${seg(node)}/drain`),
};
