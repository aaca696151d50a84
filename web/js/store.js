// Client-side state for the rooms the user is in: loaded messages (keyed by
// seq, so history pages, resume gaps and live events merge without
// duplicates), members with presence, typing users, unread counts.

import { isDirectRoom, conversationTitle } from './direct.js';

const TYPING_TTL_MS = 5000;

export class RoomState {
  constructor(name) {
    this.name = name;
    this.messages = new Map(); // seq -> message
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

  /** Add messages; returns the ones that were new. */
  add(messages) {
    const added = [];
    for (const m of messages) {
      if (typeof m.seq !== 'number' || this.messages.has(m.seq)) continue;
      this.messages.set(m.seq, m);
      if (m.cid) this.cids.add(m.cid);
      added.push(m);
      if (!this.members.has(m.from)) this.members.set(m.from, { online: false });
      if (typeof m.uid === 'string') this.uids.set(m.from, m.uid);
    }
    if (added.length) this._sorted = null;
    return added;
  }

  /** How the room is named to people: "#general", or a conversation's other account. */
  get label() {
    return this.direct ? conversationTitle(this.with) : `#${this.name}`;
  }

  clearMessages() {
    this.messages.clear();
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
