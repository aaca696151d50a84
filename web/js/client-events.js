// What the page does on each of the protocol client's events (parley-client.js): the connection's
// state, the welcome, joins, messages, sends that failed, presence, typing, room changes,
// invitations, removals, deletions and errors. Moved out of app.js, which builds the `app` it
// works on; the state stays there.

import { State } from './parley-client.js';
import { prefs } from './store.js';
import { $ } from './ui/dom.js';
import { statusText } from './ui/banner.js';
import { sameSender } from './ui/format.js';
import { removalNotice } from './moderation.js';
import { markdownText } from './ui/markdown.js';
import { isDirectRoom } from './direct.js';
import { mentions } from './mentions.js';
import { notify } from './notifications.js';
import { messageFiles } from './files.js';

const DEFAULT_ROOM = 'general'; // as app.js: the room everyone is in
const DIRECTORY_REFRESH_MS = 60000;

const SEND_ERRORS = {
  text_too_long: 'Too long',
  empty_text: 'Empty message',
  frame_too_large: 'Too large',
  no_such_room: 'Room no longer exists',
  rate_limited: 'Sending too fast',
  no_such_file: 'A file is no longer available',
};

// A message's files for the live region: "(a file: cat.png)", "(3 files)".
function filesText(m) {
  const files = messageFiles(m);
  if (!files.length) return '';
  return files.length === 1 ? `(a file: ${files[0].name})` : `(${files.length} files)`;
}

/**
 * Subscribe the page to the client's events. app: the page's state and views (app.js builds it:
 * getters for me, myUid, active, signedIn, client and directoryTimer, setters for the first two
 * and the last, the views, and the render and room functions).
 */
export function wire(c, app) {
  c.on('state', (e) => {
    app.banner.set(e.state, { nextRetryAt: e.nextRetryAt, reconnected: e.reconnected });
    $('#me-status').textContent = statusText(e.state);
    $('#app').dataset.connection = e.state;
    if (e.state !== State.CONNECTED) {
      clearInterval(app.directoryTimer);
      for (const room of app.rooms.values()) {
        room.joined = false;
        if (app.me) room.presence(app.me, 'left'); // we cannot vouch for anyone's presence now
      }
      app.invalidate('members');
    }
  });

  c.on('welcome', (w) => {
    app.me = w.user;
    app.myUid = w.uid ?? null;
    app.view.me = { from: app.me, uid: app.myUid }; // the shown room's "mine" from now on
    // A guest's name is asked for again by the next hello; an account's session is the cookie's.
    if (app.signedIn) {
      prefs.set('account', app.me);
      prefs.set('lastAccount', app.me);
    } else {
      prefs.set('name', app.me);
      prefs.remove('guests'); // this server has guests after all
    }
    app.renderMe();
    app.composer.setLimit(w.limits?.max_text_length);
    app.refreshDirectory();
    app.dms.refresh();
    clearInterval(app.directoryTimer);
    app.directoryTimer = setInterval(() => { app.refreshDirectory(); app.dms.refresh(); }, DIRECTORY_REFRESH_MS);
  });

  c.on('joined', (e) => {
    const room = app.rooms.get(e.room);
    if (!room) return;
    room.joined = true;
    room.private = Boolean(e.private);
    room.role = e.role ?? null;
    room.title = e.title ?? '';
    if (room.private || room.role) app.roomList.addRoom(e.room, { private: room.private, role: room.role });
    room.setMembers(e.members ?? [], app.me);
    if (e.truncated) room.clearMessages();
    if (!e.resumed) {
      // A conversation never read in this browser is unread from its first message: it was
      // written to this user (a room's backlog is not).
      const lastRead = prefs.get('read', {})[e.room] ?? (room.direct ? 0 : undefined);
      if (e.room !== app.active && typeof lastRead === 'number') room.unread = Math.max(0, (e.last_seq ?? 0) - lastRead);
    }
    if (!e.resumed || e.truncated) app.loadLatest(room);
    if (e.room === app.active) {
      if (!document.hidden) app.invalidate('read'); // the server's mark too, now that it is joined
      if (e.truncated) app.view.render({ keep: 'bottom' });
      app.renderMembers();
      app.renderPending();
    }
    app.renderRooms();
  });

  c.on('message', (m) => {
    const room = app.rooms.get(m.room);
    const unknown = room && !room.uids.has(m.from); // a new name, or one not yet known a guest's
    if (!room || room.add([m]).length === 0) return;
    if (unknown && m.room === app.active) app.invalidate('members');
    const wasTyping = room.stopTyping(m.from);
    const mine = sameSender(m, { from: app.me, uid: app.myUid });
    const toMe = !mine && mentions(m.text, app.me);
    // A mention or a conversation's message while the tab is hidden: a notification (if allowed).
    if (!mine && document.hidden && (toMe || room.direct)) notify(m, room);
    if (toMe && (m.room !== app.active || document.hidden)) room.mentions++;
    if (m.room === app.active) {
      if (mine) app.renderPending(); // drop the "Sending…" copy before the real one appears
      app.view.add(m);
      if (wasTyping) app.typing.render(room);
      if (!mine) app.announce(`${m.from}: ${[markdownText(m.text), filesText(m)].filter(Boolean).join(' ')}`);
      if (document.hidden && !mine) room.unread++;
      else app.invalidate('read');
    } else if (!mine) {
      room.unread++;
    }
    app.invalidate('rooms');
  });

  // The account's read state in a room, from the server: after a join, the answer to a read, or
  // another session's read (on any device): every tab shows the same counts.
  c.on('read', (e) => {
    const room = app.rooms.get(e.room);
    if (!room || typeof e.seq !== 'number') return;
    room.serverRead = Math.max(room.serverRead ?? 0, e.seq);
    const read = prefs.get('read', {});
    read[e.room] = Math.max(read[e.room] ?? 0, e.seq);
    prefs.set('read', read);
    // Messages by others this tab has after the mark: the server counted them too, unless they
    // arrived after it answered.
    const me = { from: app.me, uid: app.myUid };
    const later = room.sorted().filter((m) => m.seq > e.seq && !m.deleted && !sameSender(m, me)).length;
    if (e.room === app.active && !document.hidden) {
      room.unread = 0;
      room.mentions = 0;
    } else {
      room.unread = e.unread ?? 0;
      room.mentions = e.mentions ?? 0;
      if (room.divider === null && e.room === app.active && e.unread > 0) room.divider = e.seq;
      if (later > room.unread) room.unread = later;
    }
    if (e.room === app.active) app.view.render();
    app.invalidate('rooms');
  });

  // "Seen by" in a small room: the members' marks (after a join: all; live: the one that moved).
  c.on('seen', (e) => {
    const room = app.rooms.get(e.room);
    if (!room || !Array.isArray(e.reads)) return;
    for (const r of e.reads) if (typeof r.user === 'string' && typeof r.seq === 'number') room.seen.set(r.user, r.seq);
    if (e.room === app.active) app.view.render();
  });

  // An edit or a delete of a message: shown in place ("(edited)", "message deleted").
  const onChange = (e) => {
    const room = app.rooms.get(e.room);
    if (!room) return;
    const changed = room.change({ ...e, kind: e.type });
    if (changed && e.room === app.active) app.view.render();
  };
  c.on('edit', onChange);
  c.on('delete', onChange);
  c.on('react', onChange);
  c.on('unreact', onChange);

  c.on('queue', (e) => {
    app.banner.setPending(e.pending);
    app.invalidate('pending');
  });

  c.on('send-failed', (e) => {
    const room = app.rooms.get(e.room);
    if (!room || ['left', 'cancelled', 'room_deleted', 'removed'].includes(e.error.code)) return;
    const permanent = ['text_too_long', 'empty_text', 'frame_too_large', 'bad_request', 'bad_cid', 'no_such_file'].includes(e.error.code);
    room.failed.set(e.cid, {
      text: e.text, files: e.files ?? [], code: e.error.code, reason: SEND_ERRORS[e.error.code] ?? 'Not sent', retryable: !permanent,
    });
    if (e.room === app.active) {
      app.renderPending();
      app.announce(`Message not sent: ${SEND_ERRORS[e.error.code] ?? e.error.message}`);
    }
  });

  c.on('presence', (e) => {
    const room = app.rooms.get(e.room);
    if (!room || e.user === app.me) return;
    room.presence(e.user, e.state);
    if (e.room === app.active) { app.renderMembers(); app.typing.render(room); }
  });

  c.on('typing', (e) => {
    const room = app.rooms.get(e.room);
    if (!room || e.user === app.me) return;
    room.setTyping(e.user);
    if (e.room === app.active) app.typing.render(room);
  });

  // The owner's new title or topic: the lists and the header follow.
  c.on('room_updated', (e) => {
    app.roomList.setInfo(e.room, e);
    const room = app.rooms.get(e.room);
    if (room) room.title = e.title;
    if (e.room === app.active) app.renderHeader();
    // The open settings keep the roster they show (offline members too); their title follows.
    if (app.settings.isOpen && app.settings.room === e.room) app.settings.update(app.client.roomInfo(e.room), app.settings.people, app.me);
    app.invalidate('rooms');
  });

  // Invited (told without a ref; the inviter's own answer has one): the room is listed at once.
  c.on('invited', (e) => {
    if (e.ref !== undefined || e.user?.toLowerCase() !== app.me?.toLowerCase()) return;
    app.roomList.addRoom(e.room, { private: true, role: 'member' });
    app.renderRooms();
    const text = `You were invited to #${e.room}${e.by ? ` by ${e.by}` : ''}.`;
    app.notice(text);
    app.announce(text);
  });

  c.on('created', (e) => {
    if (e.direct && isDirectRoom(e.room)) return app.dms.onCreated(e);
    app.roomList.addRoom(e.room);
    app.renderRooms();
  });

  // Removed or banned: this user's own removal takes the room away (a private one leaves the
  // list too), told why; someone else's leaves the members list.
  c.on('removed', (e) => {
    const room = app.rooms.get(e.room);
    if (!e.self) {
      if (room?.members.delete(e.user) && e.room === app.active) app.renderMembers();
      return;
    }
    if (room?.private || app.roomList.directory.get(e.room)?.private) app.roomList.removeRoom(e.room);
    else app.roomList.forget(e.room); // a public room: browsable again (unless banned: the next refresh)
    app.rooms.delete(e.room);
    app.rememberRooms();
    if (app.settings.isOpen && app.settings.room === e.room) app.settings.hide();
    const text = removalNotice(e);
    if (app.active === e.room) app.openRoom(DEFAULT_ROOM);
    else app.renderRooms();
    app.notice(text);
    app.announce(text);
  });

  c.on('room_deleted', (e) => {
    app.roomList.removeRoom(e.room);
    const label = app.rooms.get(e.room)?.label ?? `#${e.room}`;
    app.dms.onDeleted(e.room);
    if (!app.rooms.has(e.room)) return app.renderRooms();
    app.rooms.delete(e.room);
    app.rememberRooms();
    if (app.settings.isOpen && app.settings.room === e.room) app.settings.hide();
    const who = e.by ? (e.by === app.me ? 'you' : `its owner ${e.by}`) : "the server's operator";
    app.notice(isDirectRoom(e.room) ? `The conversation with ${label} was deleted by ${who}.` : `${label} was deleted by ${who}.`);
    if (app.active === e.room) app.openRoom(DEFAULT_ROOM);
    else app.renderRooms();
  });

  c.on('error', (e) => {
    if (['bad_name', 'unauthorized', 'name_taken'].includes(e.code)) app.helloRefused(e);
    else if (e.room && e.code === 'no_such_room') app.onJoinFailed(e.room, { code: e.code, message: 'the room does not exist', rid: e.rid });
    else if (e.room && e.code === 'confusable_name') app.onJoinFailed(e.room, { code: e.code, message: e.message, rid: e.rid });
    else if (e.room && ['forbidden', 'bad_password'].includes(e.code)) app.onJoinFailed(e.room, { code: e.code, message: e.message, rid: e.rid });
    else console.warn('parley:', e.code, e.message, e.rid ? `ref ${e.rid}` : '');
  });
}

