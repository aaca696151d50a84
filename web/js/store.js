// Client-side state for the rooms the user is in: loaded messages (keyed by
// seq, so history pages, resume gaps and live events merge without
// duplicates), members with presence, typing users, unread counts.

import { isDirectRoom, conversationTitle } from './direct.js';

const TYPING_TTL_MS = 5000;

// A message as an edit or a delete leaves it: its text and `edited` time, or a tombstone.
function applyChange(m, c) {
  if (c.kind === 'delete') {
    m.deleted = true;
    m.text = '';
  } else if (!m.deleted && (m.editedBy ?? 0) < c.seq) {
    m.text = c.text;
    m.edited = c.ts;
    m.editedBy = c.seq;
  }
}

export class RoomState {
  constructor(name) {
    this.name = name;
    this.messages = new Map(); // seq -> message
    this.changes = new Map();  // seq -> the latest edit or delete of that message seen
    this.cids = new Set();     // client ids of loaded messages
    this._sorted = null;
    this.hasMore = null;       // null = unknown until the first history page
    this.loadingOlder = false;
    this.loaded = false;       // first history page fetched
    this.joined = false;
    this.private = false;      // joined says so
    this.direct = isDirectRoom(name); // a direct conversation (its id says so)
    this.with = null;          // a conversation's other account, when known (never its id)
    this.role = null;          // owner, moderator, member (joined), or none
    this.unread = 0;
    this.members = new Map();  // name -> { online: boolean }
    this.uids = new Map();     // name -> uid, from their messages (g_…: a guest)
    this.typing = new Map();   // name -> expiry (ms)
    this.failed = new Map();   // cid -> { text, error }
  }

  /**
   * Add messages; returns the ones that were new. Edits and deletes (an `edit` or `delete` event,
   * or a history entry with `kind`) are not shown: they change the message they name, now or
   * when it is loaded (history pages hold the message as it is now and the changes too; applying
   * a change twice changes nothing).
   */
  add(messages) {
    const added = [];
    for (const m of messages) {
      if (typeof m.seq !== 'number') continue;
      const kind = m.kind ?? (m.type === 'edit' || m.type === 'delete' ? m.type : null);
      if (kind) { this.change({ ...m, kind }); continue; }
      if (this.messages.has(m.seq)) continue;
      const pending = this.changes.get(m.seq);
      if (pending) applyChange(m, pending);
      this.messages.set(m.seq, m);
      if (m.cid) this.cids.add(m.cid);
      added.push(m);
      if (!this.members.has(m.from)) this.members.set(m.from, { online: false });
      if (typeof m.uid === 'string') this.uids.set(m.from, m.uid);
    }
    if (added.length) this._sorted = null;
    return added;
  }

  /** Apply an edit or a delete ({kind, target, text, ts, seq}); returns the message it changed, if loaded. */
  change(c) {
    const known = this.changes.get(c.target);
    // The latest change wins, and a delete for good (an edit after it changes nothing).
    if (!known || (known.kind !== 'delete' && known.seq < c.seq)) this.changes.set(c.target, c);
    const target = this.messages.get(c.target);
    if (!target) return null;
    applyChange(target, this.changes.get(c.target));
    this._sorted = null;
    return target;
  }

  /** How the room is named to people: "#general", or a conversation's other account. */
  get label() {
    return this.direct ? conversationTitle(this.with) : `#${this.name}`;
  }

  clearMessages() {
    this.messages.clear();
    this.changes.clear();
    this.cids.clear();
    this._sorted = null;
    this.hasMore = null;
    this.loaded = false;
  }

  /** Messages in ascending seq order. */
  sorted() {
    if (!this._sorted) this._sorted = [...this.messages.values()].sort((a, b) => a.seq - b.seq);
    return this._sorted;
  }

  get oldestSeq() { return this.sorted()[0]?.seq ?? null; }
  get newestSeq() { return this.sorted().at(-1)?.seq ?? 0; }

  /** Has a message with seq greater than every loaded one? */
  isNewest(seq) { return seq >= this.newestSeq; }

  setMembers(names, me) {
    for (const m of this.members.values()) m.online = false;
    for (const name of names) this.members.set(name, { online: true });
    if (me) this.members.set(me, { online: true });
  }

  presence(user, state) {
    this.members.set(user, { online: state === 'joined' });
    if (state === 'left') this.typing.delete(user);
  }

  /** Members sorted: online first, then by name. */
  memberList() {
    return [...this.members].map(([name, v]) => ({ name, online: v.online }))
      .sort((a, b) => (b.online - a.online) || a.name.localeCompare(b.name));
  }

  setTyping(user, now = Date.now()) { this.typing.set(user, now + TYPING_TTL_MS); }
  stopTyping(user) { return this.typing.delete(user); }

  /** Users currently typing (expired entries are dropped). */
  typingUsers(now = Date.now()) {
    for (const [user, until] of this.typing) if (until <= now) this.typing.delete(user);
    return [...this.typing.keys()];
  }
}

/** Small wrapper around localStorage that never throws. */
export const prefs = {
  get(key, fallback = null) {
    try {
      const v = localStorage.getItem(`parley.${key}`);
      return v === null ? fallback : JSON.parse(v);
    } catch {
      return fallback;
    }
  },
  set(key, value) {
    try { localStorage.setItem(`parley.${key}`, JSON.stringify(value)); } catch { /* private mode */ }
  },
  remove(key) {
    try { localStorage.removeItem(`parley.${key}`); } catch { /* ignore */ }
  },
};
