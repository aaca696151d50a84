// The join screen: ask for a display name, check it as far as the browser can, then hand it to
// onJoin. The server has the last word (docs/protocol.md, hello): it normalises the name (the
// welcome carries the result, which the app shows) and refuses what its profile refuses, with a
// message the join screen shows after the reload.

import { $ } from './dom.js';
import { hasVisible, textLength } from './format.js';

const ERROR_KEY = 'parley.joinError';

/**
 * The name as the server will make it: every space character a space, spaces trimmed and
 * collapsed, NFKC (fullwidth "ａｄａ" is "ada"), until nothing changes.
 */
export function normalizeName(name) {
  let out = name;
  for (let i = 0; i < 4; i++) {
    const next = out.replace(/\p{Zs}/gu, ' ').replace(/ {2,}/g, ' ').trim().normalize('NFKC');
    if (next === out) break;
    out = next;
  }
  return out;
}

/** A problem with the name the server would certainly refuse, or null. */
export function validateName(raw) {
  const name = normalizeName(raw);
  if (!name) return 'Enter a display name.';
  if (textLength(name) > 32) return 'Names can be at most 32 characters.';
  if (/\p{Cc}/u.test(name)) return 'Names cannot contain control characters.';
  if (/\p{Bidi_Control}/u.test(name)) return 'Names cannot contain text-direction control characters.';
  if (!hasVisible(name)) return 'Names need a visible character.';
  return null;
}

/** Remember an error to show on the join screen after a reload. */
export function rememberJoinError(message) {
  try { sessionStorage.setItem(ERROR_KEY, message); } catch { /* private mode */ }
}

export function showJoin(onJoin) {
  $('#join-screen').hidden = false;
  const form = $('#join-form');
  const input = $('#join-name');
  const error = $('#join-error');
  const setError = (msg) => {
    error.textContent = msg ?? '';
    error.hidden = !msg;
    input.setAttribute('aria-invalid', msg ? 'true' : 'false');
  };
  try {
    setError(sessionStorage.getItem(ERROR_KEY));
    sessionStorage.removeItem(ERROR_KEY);
  } catch { /* private mode */ }
  input.addEventListener('input', () => setError(null));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const name = normalizeName(input.value);
    const problem = validateName(name);
    if (problem) { setError(problem); input.focus(); return; }
    $('#join-screen').hidden = true;
    onJoin(name);
  });
  input.focus();
}
