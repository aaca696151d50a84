// Room lists (with unread badges, a lock on private rooms and their titles): "Your rooms" (the
// rooms this page is in, and those the server says the user holds a role in: its private rooms
// among them) apart from the public rooms to browse; the "create a room" form (private, with an
// optional password, for accounts), and "Join #name" for a room the directory does not show (a
// private room is listed to its members only).

import { badges } from './badges.js';
import { h } from './dom.js';
import { validatePassword } from './join.js';
import { isDirectRoom } from '../direct.js';
import { sentence } from '../account.js';

export const ROOM_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * A refused `create` in words: a sentence, or {message, open} for a public room whose name is
 * taken (the server says `room_exists`: docs/protocol.md), which the form offers to open instead.
 * A private room's taken name is only refused: the room there may not be one the user can join.
 */
export function createRoomError(err, name, { private: isPrivate = false } = {}) {
  switch (err?.code) {
    case 'bad_room': return 'That name is not allowed. Use letters, digits, “.”, “_” or “-”.';
    case 'forbidden': return 'Sign in to create a private room.';
    case 'room_exists': return isPrivate ? `#${name} already exists: choose another name.` : { message: `#${name} already exists.`, open: name };
    case 'disconnected': return 'Not connected. Try again in a moment.';
    default: return sentence(err?.message ?? 'Could not create the room.');
  }
}

export class RoomList {
  /** list: the box of both lists (clicks); mine, browse: their <ul>s; browseHead: its heading. */
  /** openExisting: the button that opens the room a refused name belongs to. */
  constructor({ list, mine, browse, browseHead, toggle, form, input, error, openExisting, search, more, privateBox, privateHint, passwordRow, password, onOpen, onCreate, onSearch, onMore }) {
    Object.assign(this, { list, mine, browse, browseHead, toggle, form, input, error, openExisting, search, more, privateBox, privateHint, passwordRow, password, onOpen, onCreate, onSearch, onMore });
    this.directory = new Map(); // room -> { members, last_seq, private, role, title, topic }
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
      const btn = e.target.closest('button[data-room], button[data-join]');
      if (btn) this.onOpen(btn.dataset.room ?? btn.dataset.join);
    });
    privateBox?.addEventListener('change', () => {
      this.passwordRow.hidden = !privateBox.checked;
      if (!privateBox.checked) this.password.value = '';
    });
    password?.addEventListener('input', () => { this.showError(''); });
    toggle.addEventListener('click', () => this.setFormOpen(form.hidden));
    form.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') { this.setFormOpen(false); toggle.focus(); }
    });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this._submit();
    });
    input.addEventListener('input', () => { this.showError(''); });
    openExisting?.addEventListener('click', () => {
      const room = openExisting.dataset.room;
      this.setFormOpen(false);
      if (room) this.onOpen(room);
    });
  }

  setFormOpen(open) {
    this.form.hidden = !open;
    this.toggle.setAttribute('aria-expanded', String(open));
    if (open) this.input.focus();
    else {
      this.input.value = '';
      this.showError('');
      if (this.privateBox) { this.privateBox.checked = false; this.password.value = ''; this.passwordRow.hidden = true; }
    }
  }

  /** Private rooms are an account's: a guest sees the box disabled, and the reason. */
  setAccount(signedIn) {
    if (!this.privateBox) return;
    this.privateBox.disabled = !signedIn;
    if (!signedIn) { this.privateBox.checked = false; this.passwordRow.hidden = true; this.password.value = ''; }
    this.privateHint.textContent = signedIn
      ? 'Only its members see it and join it.'
      : 'Sign in to create a private room: guests cannot hold a place in one.';
  }

  /** open: a room to offer to open instead (its name was taken). */
  showError(message, { open = null } = {}) {
    this.error.textContent = message;
    this.error.hidden = !message;
    if (this.openExisting) {
      this.openExisting.hidden = !open;
      this.openExisting.textContent = open ? `Open #${open}` : '';
      if (open) this.openExisting.dataset.room = open;
      else delete this.openExisting.dataset.room;
    }
    this.input.setAttribute('aria-invalid', message ? 'true' : 'false');
    if (!message) this.password?.setAttribute('aria-invalid', 'false');
  }

  async _submit() {
    const name = this.input.value.trim().replace(/^#/, '');
    if (!ROOM_RE.test(name)) {
      this.showError(name ? 'Use up to 64 letters, digits, “.”, “_” or “-” (no spaces).' : 'Enter a room name.');
      this.input.focus();
      return;
    }
    const isPrivate = Boolean(this.privateBox?.checked);
    const password = isPrivate ? this.password.value : '';
    if (password) {
      const problem = validatePassword(password);
      if (problem) {
        this.showError(problem.replace('A password', 'A room’s password'));
        this.password.setAttribute('aria-invalid', 'true');
        this.password.focus();
        return;
      }
    }
    const submit = this.form.querySelector('button[type="submit"]');
    submit.disabled = true;
    try {
      const refused = await this.onCreate(name, { private: isPrivate, password: password || undefined });
      if (!refused) this.setFormOpen(false);
      else if (typeof refused === 'string') { this.showError(refused); this.input.focus(); } else {
        this.showError(refused.message, { open: refused.open });
        this.input.focus();
      }
    } finally {
      submit.disabled = false;
    }
  }

  /**
   * Merge the server's room directory ([{room, members, last_seq}]). Direct conversations are
   * the "Direct messages" list's (dms.js), not rooms: left out.
   */
  setDirectory(rooms, { next = null, append = false } = {}) {
    if (!append) this.directory.clear();
    for (const r of rooms) {
      if (r.direct || isDirectRoom(r.room)) continue;
      this.directory.set(r.room, {
        members: r.members, last_seq: r.last_seq, private: Boolean(r.private), role: r.role ?? null, title: r.title ?? '', topic: r.topic ?? '',
      });
    }
    this.next = next;
    if (this.more) this.more.hidden = !next;
  }

  addRoom(room, { private: isPrivate = false, role = null, title = '', topic = '' } = {}) {
    if (isDirectRoom(room)) return; // a conversation is listed under "Direct messages"
    const known = this.directory.get(room);
    if (!known) this.directory.set(room, { members: 0, last_seq: 0, private: isPrivate, role, title, topic });
    else {
      if (isPrivate) known.private = true;
      if (role) known.role = role;
    }
  }

  /** A room's new title and topic (room_updated), for the list's labels. */
  setInfo(room, { title = '', topic = '' } = {}) {
    const known = this.directory.get(room);
    if (known) Object.assign(known, { title, topic });
  }

  /**
   * Left: a public room goes back to the directory (the role the user may hold there shows again
   * on the next refresh); a private room stays theirs (its membership outlasts a leave).
   */
  forget(room) {
    const known = this.directory.get(room);
    if (known && !known.private) known.role = null;
  }

  removeRoom(room) {
    this.directory.delete(room);
  }

  /** Render; states: Map room -> RoomState for joined rooms. */
  render(active, states) {
    const names = new Set([...this.directory.keys(), ...states.keys()].filter((room) => !isDirectRoom(room)));
    const sorted = [...names].sort((a, b) => (b === 'general') - (a === 'general') || a.localeCompare(b));
    // Yours: in it here, or a role there (a private room's members all have one).
    const isMine = (room) => states.has(room) || Boolean(this.directory.get(room)?.role) || Boolean(this.directory.get(room)?.private);
    const item = (room) => {
      const unread = states.get(room)?.unread ?? 0;
      const current = room === active;
      const known = this.directory.get(room);
      const locked = known?.private || states.get(room)?.private;
      const title = known?.title || states.get(room)?.title || '';
      return h('li', {},
        h('button', {
          type: 'button',
          class: `room-btn${unread ? ' has-unread' : ''}`,
          dataset: { room },
          'aria-current': current ? 'page' : null,
        },
        h('span', { class: 'hash', 'aria-hidden': 'true' }, '#'),
        // The words inside the label's box: the button's flex items would be read apart.
        h('span', { class: 'room-label' }, room, title ? h('span', { class: 'room-title' }, title) : null,
          locked ? h('span', { class: 'sr-only' }, ', private') : null),
        locked ? h('span', { class: 'lock', title: 'Private room', 'aria-hidden': 'true' }, h('span', { class: 'lock-icon' })) : null,
        ...badges(states.get(room))));
    };
    const browse = sorted.filter((room) => !isMine(room));
    this.mine.replaceChildren(...sorted.filter(isMine).map(item));
    this.browse.replaceChildren(...browse.map(item));
    if (this.browseHead) this.browseHead.hidden = browse.length === 0 && !this.query;
    // A room searched for by its exact name that the directory does not show (a private room
    // shows to its members only): offer to join it by that name.
    const wanted = this.query.replace(/^#/, '');
    if (ROOM_RE.test(wanted) && !names.has(wanted) && !isDirectRoom(wanted)) {
      this.browse.append(h('li', {},
        h('button', { type: 'button', class: 'room-btn join-by-name', dataset: { join: wanted } },
          h('span', { class: 'hash', 'aria-hidden': 'true' }, '#'),
          h('span', { class: 'room-label' }, `Join #${wanted}`))));
    }
  }
}
