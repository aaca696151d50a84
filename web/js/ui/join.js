// The join screen: three ways in, as tabs (Sign in, Create account, Continue as guest). Each form
// checks what the browser can (a guest's or a new account's name as the server will normalise
// it, a new password's length) and hands the rest to the app. The server has the last word
// (docs/protocol.md, hello; docs/api.md): it normalises the name (the welcome carries the result,
// which the app shows) and refuses what its rules refuse, with a message shown here, after the
// reload when the refusal came over the WebSocket.

import { $ } from './dom.js';
import { hasVisible, textLength } from './format.js';

const ERROR_KEY = 'parley.joinError';
const MIN_PASSWORD = 8;           // characters (code points), as the server counts
const MAX_PASSWORD_BYTES = 1024;   // UTF-8

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

/** A problem with a new account's password the server would certainly refuse, or null. */
export function validatePassword(password) {
  if ([...password].length < MIN_PASSWORD) return `A password needs at least ${MIN_PASSWORD} characters.`;
  if (new TextEncoder().encode(password).length > MAX_PASSWORD_BYTES) return 'A password may have at most 1024 bytes.';
  return null;
}

/**
 * Remember an error to show on the join screen after a reload: its message, and optionally the
 * tab to show it on ("signin", "register", "guest"; default the guest's), the name to fill in,
 * and whether to offer "Sign in" beside it (a guest's name that belongs to an account).
 */
export function rememberJoinError(message, { tab = 'guest', name, offerSignIn = false, sessionEnded = false } = {}) {
  try {
    sessionStorage.setItem(ERROR_KEY, JSON.stringify({ message, tab, name, offerSignIn, sessionEnded }));
  } catch { /* private mode */ }
}

/** The error remembered for the join screen (not taken: showJoin shows it), or null. */
export function pendingJoinError() {
  return takeJoinError({ keep: true });
}

function takeJoinError({ keep = false } = {}) {
  let raw = null;
  try {
    raw = sessionStorage.getItem(ERROR_KEY);
    if (!keep) sessionStorage.removeItem(ERROR_KEY);
  } catch { /* private mode */ }
  if (!raw) return null;
  try {
    const saved = JSON.parse(raw);
    if (saved && typeof saved.message === 'string') return saved;
  } catch { /* an older page's plain message */ }
  return { message: raw, tab: 'guest' };
}

/**
 * Show the join screen.
 * onGuest(name): join as a guest (the name as normalised).
 * onSignIn(name, password), onRegister(name, password): resolve to null once signed in (the app
 *   takes over), or to the message to show.
 * tab: the tab shown first (a remembered error's tab wins); name: a name to fill in for signing in.
 */
export function showJoin({ onGuest, onSignIn, onRegister, tab = 'guest', name = '' }) {
  $('#join-screen').hidden = false;
  const tabs = [...document.querySelectorAll('#join-screen [role="tab"]')];
  const panelOf = (t) => document.getElementById(t.getAttribute('aria-controls'));

  const forms = {
    signin: { form: $('#signin-form'), inputs: [$('#signin-name'), $('#signin-password')], error: $('#signin-error') },
    register: { form: $('#register-form'), inputs: [$('#register-name'), $('#register-password')], error: $('#register-error') },
    guest: { form: $('#join-form'), inputs: [$('#join-name')], error: $('#join-error') },
  };
  const offer = $('#join-signin');

  const setError = (which, msg, invalid = forms[which].inputs) => {
    const { error, inputs } = forms[which];
    error.textContent = msg ?? '';
    error.hidden = !msg;
    for (const input of inputs) input.setAttribute('aria-invalid', msg && invalid.includes(input) ? 'true' : 'false');
    if (which === 'guest' && !msg) offer.hidden = true;
  };
  for (const [which, { inputs }] of Object.entries(forms)) {
    for (const input of inputs) input.addEventListener('input', () => setError(which, null));
  }

  // The tabs (WAI-ARIA tabs, automatic activation): one tab stop, arrows/Home/End move and select.
  const select = (id, { focusTab = false, focusField = false } = {}) => {
    for (const t of tabs) {
      const on = t.id === `tab-${id}`;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      panelOf(t).hidden = !on;
      if (on && focusTab) t.focus();
    }
    if (focusField) {
      const { inputs } = forms[id];
      (inputs.find((i) => !i.value) ?? inputs[0]).focus();
    }
  };
  const tabId = (t) => t.id.slice('tab-'.length);
  for (const t of tabs) {
    t.addEventListener('click', () => select(tabId(t)));
    t.addEventListener('keydown', (e) => {
      const i = tabs.indexOf(t);
      const to = { ArrowRight: i + 1, ArrowLeft: i - 1 + tabs.length, Home: 0, End: tabs.length - 1 }[e.key];
      if (to === undefined) return;
      e.preventDefault();
      select(tabId(tabs[to % tabs.length]), { focusTab: true });
    });
  }

  // A form's submit: its button busy (disabled, aria-busy, a label saying so) until the answer.
  const busy = (form, on, label) => {
    const button = form.querySelector('button[type="submit"]');
    if (on) { button.dataset.label = button.textContent; button.textContent = label; } else if (button.dataset.label) button.textContent = button.dataset.label;
    button.disabled = on;
    form.setAttribute('aria-busy', String(on));
  };

  const signin = forms.signin;
  signin.form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const [nameInput, passwordInput] = signin.inputs;
    const who = normalizeName(nameInput.value);
    if (!who) { setError('signin', 'Enter your name.', [nameInput]); nameInput.focus(); return; }
    if (!passwordInput.value) { setError('signin', 'Enter your password.', [passwordInput]); passwordInput.focus(); return; }
    busy(signin.form, true, 'Signing in…');
    const problem = await onSignIn(who, passwordInput.value);
    busy(signin.form, false);
    if (!problem) { passwordInput.value = ''; return; } // in: the password stays nowhere
    setError('signin', problem);
    passwordInput.select();
    passwordInput.focus();
  });

  const reg = forms.register;
  reg.form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const [nameInput, passwordInput] = reg.inputs;
    const who = normalizeName(nameInput.value);
    const nameProblem = validateName(who);
    if (nameProblem) { setError('register', nameProblem, [nameInput]); nameInput.focus(); return; }
    const passwordProblem = validatePassword(passwordInput.value);
    if (passwordProblem) { setError('register', passwordProblem, [passwordInput]); passwordInput.focus(); return; }
    busy(reg.form, true, 'Creating account…');
    const problem = await onRegister(who, passwordInput.value);
    busy(reg.form, false);
    if (!problem) { passwordInput.value = ''; return; }
    setError('register', problem);
    nameInput.focus();
  });

  const guest = forms.guest;
  guest.form.addEventListener('submit', (e) => {
    e.preventDefault();
    const [input] = guest.inputs;
    const who = normalizeName(input.value);
    const problem = validateName(who);
    if (problem) { setError('guest', problem); input.focus(); return; }
    $('#join-screen').hidden = true;
    onGuest(who);
  });

  // "Sign in" beside a guest name that belongs to an account: the Sign in tab, that name filled in.
  offer.addEventListener('click', () => {
    const [nameInput] = signin.inputs;
    nameInput.value = normalizeName(guest.inputs[0].value) || nameInput.value;
    select('signin', { focusField: true });
  });

  if (name) signin.inputs[0].value = name;
  const saved = takeJoinError();
  const first = saved && forms[saved.tab] ? saved.tab : (forms[tab] ? tab : 'guest');
  select(first);
  if (saved) {
    if (saved.name && saved.tab === 'guest') guest.inputs[0].value = saved.name;
    if (saved.name && saved.tab === 'signin') signin.inputs[0].value = saved.name;
    setError(first, saved.message);
    if (first === 'guest') offer.hidden = !saved.offerSignIn;
  }
  const { inputs } = forms[first];
  (inputs.find((i) => !i.value) ?? inputs[0]).focus();
}
