// The password of a private room, asked in a small modal dialog (<dialog>: the browser keeps
// focus inside it and Escape cancels it). The password goes to the callback and is cleared from
// the field once the dialog closes: nothing keeps it.

import { validatePassword } from './join.js';

export class PasswordPrompt {
  constructor({ dialog, form, title, input, error, cancel }) {
    Object.assign(this, { dialog, form, title, input, error, cancel });
    this.onSubmit = null;
    this.returnFocus = null;
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this._submit();
    });
    cancel.addEventListener('click', () => this.close());
    input.addEventListener('input', () => this.showError(''));
    dialog.addEventListener('close', () => {
      this.input.value = '';
      this.showError('');
      this.onSubmit = null;
      this.returnFocus?.focus();
      this.returnFocus = null;
    });
  }

  get isOpen() { return this.dialog.open; }

  /**
   * Ask for #room's password. onSubmit(password) resolves with null (joined: the dialog closes)
   * or the sentence to show (the dialog stays, for another try). returnFocus: where focus goes
   * when the dialog closes (default: what had it before).
   */
  ask(room, onSubmit, { message = '', returnFocus } = {}) {
    this.onSubmit = onSubmit;
    this.returnFocus = returnFocus ?? document.activeElement;
    this.title.textContent = `#${room} is private`;
    this.input.value = '';
    this.showError(message);
    if (!this.dialog.open) this.dialog.showModal();
    this.input.focus();
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  showError(message) {
    this.error.textContent = message;
    this.error.hidden = !message;
    this.input.setAttribute('aria-invalid', message ? 'true' : 'false');
  }

  async _submit() {
    const password = this.input.value;
    // A room's password has the account passwords' rule: shorter ones cannot be right.
    if (!password) { this.showError('Enter the room’s password.'); this.input.focus(); return; }
    if (validatePassword(password)) { this.showError('Wrong password.'); this.input.select(); return; }
    const submit = this.form.querySelector('button[type="submit"]');
    submit.disabled = true;
    let message;
    try {
      message = await this.onSubmit?.(password);
    } finally {
      submit.disabled = false;
    }
    if (!this.dialog.open) return;
    if (!message) { this.close(); return; }
    this.showError(message);
    this.input.select();
  }
}
