// Client-side state for the rooms the user is in: loaded messages (keyed by
// seq, so history pages, resume gaps and live events merge without
// duplicates), members with presence, typing users, unread counts.

import { isDirectRoom, conversationTitle } from './direct.js';

const TYPING_TTL_MS = 5000;

const CHANGE_KINDS = new Set(['edit', 'delete', 'react', 'unreact']);

// Live messages kept while a window back in history is shown, merged when it reaches them. The
// oldest go first past this: they were stored before the window's next pages are read, which
// bring them (protocol.md: every message anyone has seen is in history).
const MAX_ARRIVED = 1000;

// Who reacted, as the server counts people: an account's uid, a guest's name.
export function reactorKey(r) {
  return typeof r.uid === 'string' && !r.uid.startsWith('g_') ? r.uid : `\u0001${r.from}`;
}

// A react or an unreact applied to message `m`'s reactions ([{emoji, count, users: [{from, uid}]}]):
// idempotent, so that a history page's entries and the live events may both be applied.
function applyReaction(m, op) {
  if (m.deleted) return;
  const list = m.reactions ?? (m.reactions = []);
  const key = reactorKey(op);
  let r = list.find((x) => x.emoji === op.emoji);
  if (op.kind === 'react') {
    if (!r) { r = { emoji: op.emoji, count: 0, users: [] }; list.push(r); }
    if (!r.users.some((u) => reactorKey(u) === key)) r.users.push(op.uid ? { from: op.from, uid: op.uid } : { from: op.from });
  } else if (r) {
    r.users = r.users.filter((u) => reactorKey(u) !== key);
    if (!r.users.length) list.splice(list.indexOf(r), 1);
  }
  if (r) r.count = r.users.length;
}

// A message as an edit or a delete leaves it: its text and `edited` time, or a tombstone.
function applyChange(m, c) {
  if (c.kind === 'delete') {
    m.deleted = true;
    m.text = '';
    m.reactions = [];
    m.files = []; // the server deletes a deleted message's files
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
    this.reactionOps = new Map(); // seq -> Map(user + emoji -> the latest react or unreact of it seen)
    this.cids = new Set();     // client ids of loaded messages
    this._sorted = null;
    this.hasMore = null;       // null = unknown until the first history page
    this.loadingOlder = false;
    // A window back in history (a search hit, a reply's quote far up): the loaded messages end at
    // seq `windowTop` and newer ones exist that are not loaded; pages are loaded down to the
    // newest. Live messages meanwhile wait in `arrived` (they would be shown after a gap).
    this.hasNewer = false;
    this.windowTop = 0;
    this.loadingNewer = false;
    this.arrived = new Map();  // seq -> message
    this.loaded = false;       // first history page fetched
    this.joined = false;
    this.private = false;      // joined says so
    this.direct = isDirectRoom(name); // a direct conversation (its id says so)
    this.with = null;          // a conversation's other account, when known (never its id)
    this.role = null;          // owner, moderator, member (joined), or none
    this.unread = 0;
    this.mentions = 0;         // unread messages mentioning the user
    this.serverRead = 0;       // the account's mark as the server has it (read state)
    this.divider = null;       // "new messages" after this seq (set when the room is opened)
    this.seen = new Map();     // "seen by" in a small room: name -> seq
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
      const kind = m.kind ?? (CHANGE_KINDS.has(m.type) ? m.type : null);
      if (kind) { this.change({ ...m, kind }); continue; }
      if (this.messages.has(m.seq)) continue;
      if (this.hasNewer && m.seq > this.windowTop) {
        if (this.arrived.has(m.seq)) continue;
        this.arrived.set(m.seq, m);
        if (this.arrived.size > MAX_ARRIVED) this.arrived.delete(this.arrived.keys().next().value);
        added.push(m);
        continue;
      }
      const pending = this.changes.get(m.seq);
      if (pending) applyChange(m, pending);
      const ops = this.reactionOps.get(m.seq);
      if (ops) for (const op of [...ops.values()].sort((a, b) => a.seq - b.seq)) applyReaction(m, op);
      this.messages.set(m.seq, m);
      if (m.cid) this.cids.add(m.cid);
      added.push(m);
      if (!this.members.has(m.from)) this.members.set(m.from, { online: false });
      if (typeof m.uid === 'string') this.uids.set(m.from, m.uid);
    }
    if (added.length) this._sorted = null;
    return added;
  }

  /**
   * Apply an edit, a delete, a react or an unreact ({kind, target, text or emoji, ts, seq});
   * returns the message it changed, if loaded.
   */
  change(c) {
    if (c.kind === 'react' || c.kind === 'unreact') return this._react(c);
    const known = this.changes.get(c.target);
    // The latest change wins, and a delete for good (an edit after it changes nothing).
    if (!known || (known.kind !== 'delete' && known.seq < c.seq)) this.changes.set(c.target, c);
    const target = this.messages.get(c.target);
    if (!target) return null;
    applyChange(target, this.changes.get(c.target));
    this._sorted = null;
    return target;
  }

  // The latest react or unreact of each (user, emoji) wins, by seq: applied now if its message is
  // loaded, and when it is (a history page's message is as it is now; applying again is harmless).
  _react(op) {
    let ops = this.reactionOps.get(op.target);
    if (!ops) this.reactionOps.set(op.target, ops = new Map());
    const key = `${reactorKey(op)}\n${op.emoji}`;
    const known = ops.get(key);
    if (known && known.seq >= op.seq) return null;
    ops.set(key, op);
    const target = this.messages.get(op.target);
    if (!target) return null;
    applyReaction(target, op);
    return target;
  }

  /**
   * Show a window of history instead of the newest messages: `entries` (a history page) cover
   * the seqs up to `top`, older ones exist if `hasMore`; `newest`: the room's newest seq known.
   */
  showWindow(entries, top, hasMore, newest) {
    this.clearMessages();
    this.hasNewer = true;
    this.windowTop = top;
    this.add(entries);
    this.hasMore = hasMore;
    this.loaded = true;
    if (top >= newest) this._attach();
  }

  /**
   * A newer page of the window: `entries` cover the seqs up to `top`. Once the window reaches
   * `newest` (the room's newest seq known) it is the room's list again, with the messages that
   * arrived meanwhile. Returns true then.
   */
  extendWindow(entries, top, newest) {
    if (!this.hasNewer) return true;
    this.windowTop = Math.max(this.windowTop, top);
    this.add(entries);
    if (this.windowTop < newest) return false;
    this._attach();
    return true;
  }

  _attach() {
    const arrived = [...this.arrived.values()];
    this.hasNewer = false;
    this.windowTop = 0;
    this.arrived.clear();
    this.add(arrived);
  }

  /** How the room is named to people: "#general", or a conversation's other account. */
  get label() {
    return this.direct ? conversationTitle(this.with) : `#${this.name}`;
  }

  clearMessages() {
    this.messages.clear();
    this.changes.clear();
    this.reactionOps.clear();
    this.cids.clear();
    this._sorted = null;
    this.hasMore = null;
    this.loaded = false;
    this.hasNewer = false;
    this.windowTop = 0;
    this.arrived.clear();
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
