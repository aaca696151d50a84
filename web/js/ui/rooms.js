// Room list (with unread badges) and the "create a room" form.

import { h } from './dom.js';

export const ROOM_RE = /^[A-Za-z0-9_.-]{1,64}$/;

export class RoomList {
  constructor({ list, toggle, form, input, error, search, more, onOpen, onCreate, onSearch, onMore }) {
    Object.assign(this, { list, toggle, form, input, error, search, more, onOpen, onCreate, onSearch, onMore });
    this.directory = new Map(); // room -> { members, last_seq }
    this.next = null;            // the cursor of the directory's next page, if any
    this.query = '';

    // The directory comes from the server in pages (and a search is the server's): the list
    // shows the first page, "More rooms" the next, and a search replaces the pages.
    if (search) {
      let timer = null;
      search.addEventListener('input', () => {
        clearTimeout(timer);
        timer = setTimeout(() => { this.query = search.value.trim(); this.onSearch?.(this.query); }, 250);
      });
    }
    more?.addEventListener('click', () => this.onMore?.(this.query, this.next));

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
    input.addEventListener('input', () => { this.showError(''); });
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

  async _submit() {
    const name = this.input.value.trim().replace(/^#/, '');
    if (!ROOM_RE.test(name)) {
      this.showError(name ? 'Use up to 64 letters, digits, “.”, “_” or “-” (no spaces).' : 'Enter a room name.');
      this.input.focus();
      return;
    }
    const submit = this.form.querySelector('button[type="submit"]');
    submit.disabled = true;
    try {
      const message = await this.onCreate(name);
      if (message) { this.showError(message); this.input.focus(); } else this.setFormOpen(false);
    } finally {
      submit.disabled = false;
    }
  }

  /** Merge the server's room directory ([{room, members, last_seq}]). */
  setDirectory(rooms, { next = null, append = false } = {}) {
    if (!append) this.directory.clear();
    for (const r of rooms) this.directory.set(r.room, { members: r.members, last_seq: r.last_seq });
    this.next = next;
    if (this.more) this.more.hidden = !next;
  }

  addRoom(room) {
    if (!this.directory.has(room)) this.directory.set(room, { members: 0, last_seq: 0 });
  }

  removeRoom(room) {
    this.directory.delete(room);
  }

  /** Render; states: Map room -> RoomState for joined rooms. */
  render(active, states) {
    const names = new Set([...this.directory.keys(), ...states.keys()]);
    const sorted = [...names].sort((a, b) => (b === 'general') - (a === 'general') || a.localeCompare(b));
    this.list.replaceChildren(...sorted.map((room) => {
      const unread = states.get(room)?.unread ?? 0;
      const current = room === active;
      return h('li', {},
        h('button', {
          type: 'button',
          class: `room-btn${unread ? ' has-unread' : ''}`,
          dataset: { room },
          'aria-current': current ? 'page' : null,
        },
        h('span', { class: 'hash', 'aria-hidden': 'true' }, '#'),
        h('span', { class: 'room-label' }, room),
        unread ? h('span', { class: 'badge' },
          h('span', { 'aria-hidden': 'true' }, unread > 99 ? '99+' : String(unread)),
          h('span', { class: 'sr-only' }, `, ${unread} unread`)) : null));
    }));
  }
}
