// The join screen: ask for a display name (1–32 characters, no control
// characters — the server's rule), then hand it to onJoin.

import { $ } from './dom.js';
import { textLength } from './format.js';

const ERROR_KEY = 'parley.joinError';

export function validateName(name) {
  if (!name) return 'Enter a display name.';
  if (textLength(name) > 32) return 'Names can be at most 32 characters.';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'Names cannot contain control characters.';
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
    const name = input.value.trim();
    const problem = validateName(name);
    if (problem) { setError(problem); input.focus(); return; }
    $('#join-screen').hidden = true;
    onJoin(name);
  });
  input.focus();
}
