// The user's direct conversations, kept with the app (protocol.md "Direct conversations"): whom
// each is with (the sidebar's list, the room's labels, and this browser's memory, so that a
// reload shows names before the server's list arrives), joined as soon as known, started by
// name, and dropped when the server will not have us in one for good.

import { prefs } from './store.js';
import { isDirectRoom, dmErrorText } from './direct.js';
import { sentence } from './account.js';

const MAX_PAGES = 5; // pages of conversations listed (and joined) at each welcome

export class Conversations {
  /**
   * list: the sidebar's DmList. app: what this needs of the app —
   *   client() the ParleyClient or null; signedIn() and me() who the user is; rooms the joined
   *   rooms (name -> RoomState); ensureRoom(room) joins one; openRoom(room, {focus}) shows one;
   *   dropRoom(room) takes one out of the joined rooms (and off the screen); relabel(room)
   *   re-renders the shown room's name; render() the sidebar's lists; tell(text) a notice that
   *   is also announced.
   */
  constructor(list, app) {
    this.list = list;
    this.app = app;
  }

  /** The names this browser remembered (an account's; before the welcome). */
  restore() {
    for (const [room, name] of Object.entries(prefs.get('dms', {}) ?? {})) {
      if (isDirectRoom(room)) this.list.learn(room, name);
    }
  }

  /** Forget them all (signing out). */
  static clear() { prefs.remove('dms'); }

  nameOf(room) { return this.list.nameOf(room); }

  /** Whom a conversation is with, wherever that shows. */
  learn(room, name) {
    if (!this.list.learn(room, name)) return;
    prefs.set('dms', this.list.toJSON());
    const state = this.app.rooms.get(room);
    if (!state) return;
    state.with = name;
    this.app.relabel(room);
  }

  // Joined as soon as known, as #general and the remembered rooms are: its messages arrive,
  // and count as unread, without opening it.
  know(room, name) {
    this.learn(room, name);
    this.app.ensureRoom(room);
  }

  /** The items of a `rooms` answer that are conversations (any page, searched or not). */
  fromDirectory(items) {
    for (const r of items) if (r.direct && isDirectRoom(r.room)) this.know(r.room, r.with);
  }

  // The user's conversations: the directory's ids that contain "dm-" (a conversation's start
  // with it), the items with direct, a few pages at most.
  async refresh() {
    const client = this.app.client();
    if (!this.app.signedIn() || !client) return;
    let after;
    try {
      for (let page = 0; page < MAX_PAGES; page++) {
        const got = await client.roomsPage({ q: 'dm-', after });
        this.fromDirectory(got.rooms);
        if (!got.next) break;
        after = got.next;
      }
    } catch { /* not connected; listed again on the next welcome */ }
    this.app.render();
  }

  /** "New message" and a member's "Message": null once the conversation is open, else why not. */
  async start(name) {
    const client = this.app.client();
    if (!client) return 'Not connected. Try again in a moment.';
    let answer;
    try {
      answer = await client.dm(name);
    } catch (err) {
      return dmErrorText(err);
    }
    this.know(answer.room, answer.user);
    this.app.openRoom(answer.room, { focus: true });
    return null;
  }

  /** A member's "Message": a refusal becomes a notice. */
  async message(name) {
    const problem = await this.start(name);
    if (problem) this.app.tell(problem);
  }

  /**
   * A `created` with direct: begun by the other account, listed and joined at once; begun by
   * this account in another session, whom it is with comes from the list.
   */
  onCreated(evt) {
    const me = this.app.me();
    if (evt.by && evt.by.toLowerCase() !== me?.toLowerCase()) {
      const fresh = !this.list.has(evt.room);
      this.know(evt.room, evt.by);
      if (fresh) this.app.tell(`${evt.by} started a conversation with you.`, { quiet: true });
    } else {
      this.refresh();
    }
    this.app.render();
  }

  /** The operator deleted it: out of the list. */
  onDeleted(room) {
    if (this.list.forget(room)) prefs.set('dms', this.list.toJSON());
  }

  // A conversation that will not have us: told why, and out of the list when that is for good
  // (it was deleted, say); after a refusal for now it stays listed, and opening it tries again.
  joinFailed(room, err) {
    const who = this.list.nameOf(room);
    if (['no_such_room', 'forbidden', 'bad_room'].includes(err.code)) this.onDeleted(room);
    this.app.tell(`Could not open the conversation${who ? ` with ${who}` : ''}: ${sentence(err.message || err.code)}`);
    this.app.dropRoom(room);
  }
}
