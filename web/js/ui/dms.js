// The sidebar's "Direct messages": the user's conversations, each shown by the other account's
// name (never its dm-… id), with unread badges as rooms have; "New message" asks for a name. A
// guest sees why there are none instead (guests cannot hold a conversation).

import { badges } from './badges.js';
import { h } from './dom.js';
import { avatar } from './messages.js';
import { conversationTitle, GUEST_REASON } from '../direct.js';

export class DmList {
  /**
   * onOpen(room): a conversation was chosen. onStart(name): "New message" to that name; resolves
   * with null once the conversation is open, else the sentence to show under the field.
   */
  constructor({ list, toggle, form, input, error, hint, onOpen, onStart }) {
    Object.assign(this, { list, toggle, form, input, error, hint, onOpen, onStart });
    this.names = new Map(); // room -> the other account's name
    this.signedIn = false;

    list.addEventListener('click', (e) => {
      const btn = e.target.closest('button[data-room]');
      if (btn) this.onOpen(btn.dataset.room);
    });
    toggle.addEventListener('click', () => this.setFormOpen(form.hidden));
    form.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') { this.setFormOpen(false); toggle.focus(); }
    });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this._submit();
    });
    input.addEventListener('input', () => this.showError(''));
  }

  /** An account holds conversations; a guest is told why it has none, and has no "New message". */
  setAccount(signedIn) {
    this.signedIn = signedIn;
    this.toggle.hidden = !signedIn;
    if (!signedIn) this.setFormOpen(false);
    this._renderHint();
  }

  setFormOpen(open) {
    this.form.hidden = !open;
    this.toggle.setAttribute('aria-expanded', String(open));
    if (open) this.input.focus();
    else { this.input.value = ''; this.showError(''); }
  }

  showError(message) {
    this.error.textContent = message;
    this.error.hidden = !message;
    this.input.setAttribute('aria-invalid', message ? 'true' : 'false');
  }

  /** Remember whom a conversation is with; true if that is news (a new one, or a new name). */
  learn(room, name) {
    if (typeof name !== 'string' || name === '' || this.names.get(room) === name) return false;
    this.names.set(room, name);
    return true;
  }

  forget(room) {
    return this.names.delete(room);
  }

  has(room) { return this.names.has(room); }

  nameOf(room) { return this.names.get(room) ?? null; }

  /** Conversations known by name, as plain data (for localStorage). */
  toJSON() { return Object.fromEntries(this.names); }

  async _submit() {
    const name = this.input.value.trim().replace(/^@/, '');
    if (!name) { this.showError('Enter the name of an account.'); this.input.focus(); return; }
    const submit = this.form.querySelector('button[type="submit"]');
    submit.disabled = true;
    try {
      const message = await this.onStart(name);
      if (message) { this.showError(message); this.input.focus(); } else this.setFormOpen(false);
    } finally {
      submit.disabled = false;
    }
  }

  _renderHint() {
    let text = '';
    if (!this.signedIn) text = GUEST_REASON;
    else if (this.names.size === 0) text = 'No conversations yet: choose “Message” beside a member’s name, or “New message”.';
    this.hint.textContent = text;
    this.hint.hidden = !text;
  }

  /** Render; states: Map room -> RoomState (a joined conversation's unread count). */
  render(active, states) {
    this._renderHint();
    const rooms = [...this.names.keys()].sort((a, b) => this.names.get(a).localeCompare(this.names.get(b)) || a.localeCompare(b));
    this.list.replaceChildren(...rooms.map((room) => {
      const name = conversationTitle(this.names.get(room));
      const unread = states.get(room)?.unread ?? 0;
      return h('li', {},
        h('button', {
          type: 'button',
          class: `room-btn dm-btn${unread ? ' has-unread' : ''}`,
          dataset: { room },
          'aria-current': room === active ? 'page' : null,
        },
        avatar(name, 'tiny'),
        h('span', { class: 'room-label' }, name),
        ...badges(states.get(room))));
    }));
  }
}
