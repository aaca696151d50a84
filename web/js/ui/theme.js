// The user's settings dialog (the gear beside "Sign out"): the theme, light, dark or system (the
// default: the operating system's). The choice is kept in localStorage ("parley.theme") and
// applied at once; js/theme-boot.js applies it on the next load before the first paint.

import { prefs } from '../store.js';

export const THEMES = ['light', 'dark', 'system'];

/** The setting a stored value means: anything but "light" or "dark" is "system". */
export function themeSetting(value) {
  return value === 'light' || value === 'dark' ? value : 'system';
}

/** The theme a setting shows: "system" follows the system's preference (dark: true). */
export function resolveTheme(setting, systemDark) {
  const s = themeSetting(setting);
  return s === 'system' ? (systemDark ? 'dark' : 'light') : s;
}

export class UserSettings {
  /** dialog: the <dialog>; open: the button that opens it; close: its close button; form: the radios' form. */
  constructor({ dialog, open, close, form }) {
    Object.assign(this, { dialog, openBtn: open, form });
    open.addEventListener('click', () => this.show());
    close.addEventListener('click', () => dialog.close());
    form.addEventListener('submit', (e) => e.preventDefault());
    form.addEventListener('change', (e) => {
      if (e.target.name === 'theme') this.setTheme(e.target.value);
    });
    dialog.addEventListener('close', () => open.focus());
  }

  get setting() { return themeSetting(prefs.get('theme')); }

  setTheme(value) {
    const setting = themeSetting(value);
    if (setting === 'system') prefs.remove('theme');
    else prefs.set('theme', setting);
    if (globalThis.parleyTheme) globalThis.parleyTheme.apply(setting);
    else {
      const dark = globalThis.matchMedia?.('(prefers-color-scheme: dark)').matches;
      document.documentElement.dataset.theme = resolveTheme(setting, dark);
      document.documentElement.dataset.themeSetting = setting;
    }
  }

  show() {
    const current = this.form.querySelector(`input[name="theme"][value="${this.setting}"]`);
    if (current) current.checked = true;
    this.dialog.showModal();
    current?.focus();
  }
}
