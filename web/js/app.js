// Parley web app: wires the protocol client (parley-client.js) to the UI
// modules in ./ui. No framework, no build step.

import { ParleyClient, State } from './parley-client.js';
import { RoomState, prefs } from './store.js';
import { $, h } from './ui/dom.js';
import { MessageView, avatar, excerpt } from './ui/messages.js';
import { RoomList, createRoomError } from './ui/rooms.js';
import { DmList } from './ui/dms.js';
import { Conversations } from './conversations.js';
import { MemberList } from './ui/members.js';
import { Composer } from './ui/composer.js';
import { ConnectionBanner } from './ui/banner.js';
import { UserSettings } from './ui/theme.js';
import { TypingIndicator } from './ui/typing.js';
import { Sidebar } from './ui/sidebar.js';
import { plural } from './ui/format.js';
import { showJoin, validateName, rememberJoinError, pendingJoinError } from './ui/join.js';
import { PasswordPrompt } from './ui/password-prompt.js';
import { RoomSettings } from './ui/room-settings.js';
import { SearchPanel } from './ui/search-panel.js';
import { needsPassword, joinErrorText, actionErrorText } from './moderation.js';
import { isDirectRoom, canMessage } from './direct.js';
import * as account from './account.js';
import { wire } from './client-events.js';
import * as notifications from './notifications.js';
import { AttachBar } from './ui/attach-bar.js';
import { FileViewer } from './ui/file-viewer.js';

const DEFAULT_ROOM = 'general';
const PAGE_SIZE = 50;
const MAX_AUTO_PAGES = 5;          // pages loaded just to fill the screen

const rooms = new Map(); // joined rooms: name -> RoomState
let client = null;
let active = null;
let me = null;
let myUid = null; // welcome's uid: an account's id, or this connection's guest id
let signedIn = false; // an account's session (the cookie), not a guest's name
let directoryTimer = null;

// ------------------------------------------------------------------ UI parts

const announcer = $('#announcer');
// A notice above the messages that goes away after a while (a room the operator deleted).
let noticeTimer = null;
// `ref`: a server error's request id (protocol.md, Errors), shown small after the text, so that
// a user's screenshot names the server's log line of that error.
function notice(text, ref) {
  const el = $('#room-notice');
  el.textContent = text;
  if (typeof ref === 'string' && ref) el.append(' ', h('small', { class: 'ref' }, `ref ${ref}`));
  el.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { el.hidden = true; }, 10000);
}

function announce(text) {
  announcer.append(h('p', {}, text));
  while (announcer.childElementCount > 3) announcer.firstElementChild.remove();
}

const view = new MessageView({
  scroller: $('#scroller'),
  list: $('#message-list'),
  pendingList: $('#pending-list'),
  loadOlder: $('#load-older'),
  historyStatus: $('#history-status'),
  loadNewer: $('#load-newer'),
  newerStatus: $('#history-newer-status'),
  jump: $('#jump-latest'),
  jumpText: $('#jump-latest-text'),
  onLoadOlder: () => loadOlder(),
  onLoadNewer: () => loadNewer(),
  onJumpLatest: () => { const room = rooms.get(active); if (room) returnToLatest(room); },
  onRetry: (cid) => retryFailed(cid),
  onEdit: (cid) => editFailed(cid),
  onDiscard: (cid) => { rooms.get(active)?.failed.delete(cid); renderPending(); composer.focus(); },
  now: () => Date.now() + (client?.serverTimeOffset ?? 0),
  onEditMessage: (seq, text) => changeMessage(() => client.edit(active, seq, text), 'edited'),
  onDeleteMessage: (seq) => {
    if (window.confirm('Delete this message for everyone?')) changeMessage(() => client.deleteMessage(active, seq), 'deleted');
  },
  onReact: (seq, emoji, add) => react(seq, emoji, add),
  onReply: (seq) => startReply(seq),
  onJumpTo: (seq) => jumpTo(seq),
  onViewFile: (file, opener) => viewer.show(file, opener),
});

// Files: an image attachment's viewer, and the files being attached to the next message.
const viewer = new FileViewer({
  dialog: $('#file-viewer'),
  img: $('#viewer-img'),
  name: $('#viewer-name'),
  meta: $('#viewer-meta'),
  download: $('#viewer-download'),
  close: $('#viewer-close'),
});
const attachBar = new AttachBar({
  button: $('#attach-btn'),
  input: $('#attach-input'),
  chips: $('#attach-chips'),
  dropTarget: $('#chat'),
  dropZone: $('#drop-zone'),
  pasteTarget: $('#composer-input'),
  onChange: () => composer.update(), // called on events only, after the composer exists
  tell: (text) => { notice(text); announce(text); },
  // The server's limits when the welcome names them (else it says so when refusing an upload).
  limits: () => ({ maxBytes: client?.limits?.max_file_bytes, maxFiles: client?.limits?.max_files_per_message }),
});

// A reaction added or taken back: the `react` or `unreact` event every member gets changes the
// chips; a refusal is said.
async function react(seq, emoji, add) {
  try {
    await (add ? client.react(active, seq, emoji) : client.unreact(active, seq, emoji));
    announce(add ? `Reacted with ${emoji}.` : `Reaction ${emoji} removed.`);
  } catch (err) {
    const why = {
      too_many_reactions: err.message, deleted: 'it was deleted', no_such_message: 'no such message', bad_emoji: 'not an emoji',
    }[err.code] ?? err.message;
    notice(`Could not react: ${why}`);
    announce(`Could not react: ${why}`);
  }
}

// Replying: what the next send answers, shown above the composer until sent or cancelled.
let replyTo = null; // { room, seq }
const replyBar = $('#reply-bar');
function startReply(seq) {
  const m = rooms.get(active)?.messages.get(seq);
  if (!m || m.deleted) return;
  replyTo = { room: active, seq };
  $('#reply-bar-from').textContent = m.from;
  $('#reply-bar-excerpt').textContent = excerpt(m.text, 60);
  replyBar.hidden = false;
  composer.focus();
}
function cancelReply() {
  replyTo = null;
  replyBar.hidden = true;
}
$('#reply-bar-cancel').addEventListener('click', () => { cancelReply(); composer.focus(); });

// A reply's quote or a search hit: the message shown with its context. Not loaded, a page of
// history around it is; the message scrolled to and flashed.
async function jumpTo(seq) {
  const room = rooms.get(active);
  if (!room) return;
  if (!room.messages.has(seq)) await loadAround(room, seq);
  if (room.name === active && !view.showMessage(seq)) announce('That message is no longer available.');
}

// A page of history around message `seq` (half a page after it). Where it meets the loaded
// messages it joins them; else it replaces them as a window back in history (RoomState
// showWindow), which loads newer pages as the user scrolls down and leaves for the newest
// messages by "Jump to latest" or a send. Paging back through the history between was bounded,
// and could not reach a search hit among a million messages.
async function loadAround(room, seq) {
  const top = seq + PAGE_SIZE / 2;
  let page;
  try {
    page = await client.history(room.name, { before: top + 1, limit: PAGE_SIZE });
  } catch (err) {
    if (err.code !== 'disconnected') announce(`Could not load the message: ${err.message}`);
    return;
  }
  if (rooms.get(room.name) !== room || !page.messages.length) return;
  const low = Math.min(...page.messages.map((m) => m.seq));
  const oldest = room.oldestSeq ?? Infinity;
  const newest = client.lastSeq(room.name) ?? top;
  const meets = room.loaded && top + 1 >= oldest && low <= (room.hasNewer ? room.windowTop + 1 : Infinity);
  if (meets) {
    if (room.hasNewer && top > room.windowTop) room.extendWindow(page.messages, top, newest);
    else room.add(page.messages);
    if (low < oldest) room.hasMore = page.has_more;
  } else {
    room.showWindow(page.messages, top, page.has_more, newest);
  }
  if (room.name === active) view.render({ keep: 'top' });
}

// The next page of a window back in history, as the user scrolls down to it.
async function loadNewer() {
  const room = rooms.get(active);
  if (!room?.hasNewer || room.loadingNewer) return;
  room.loadingNewer = true;
  view.updateHistoryBottom();
  const from = room.windowTop;
  const top = from + PAGE_SIZE;
  try {
    const page = await client.history(room.name, { before: top + 1, limit: PAGE_SIZE });
    // Unless the window was left or replaced meanwhile (a jump elsewhere, "Jump to latest").
    if (rooms.get(room.name) === room && room.hasNewer && room.windowTop === from) {
      room.extendWindow(page.messages, top, client.lastSeq(room.name) ?? top);
    }
  } catch (err) {
    if (err.code !== 'disconnected') announce(`Could not load newer messages: ${err.message}`);
  } finally {
    room.loadingNewer = false;
  }
  if (room.name === active) {
    view.render({ keep: 'top' });
    renderMembers();
    if (!document.hidden) markRead(room); // as far as the window now reaches
  }
}

// From a window back in history to the newest messages ("Jump to latest", a send).
function returnToLatest(room) {
  if (room.hasNewer) loadLatest(room);
}

// A search hit chosen: its room opened (joined if need be), the message shown with its context.
const MAX_OPEN_WAITS = 50; // × 100 ms for the room's join and first page
async function openHit(name, seq) {
  openRoom(name, { focus: false });
  const room = rooms.get(name);
  for (let i = 0; room && !room.loaded && i < MAX_OPEN_WAITS && active === name && rooms.get(name) === room; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (active !== name || !room?.loaded) return;
  await jumpTo(seq);
}

const search = new SearchPanel({
  form: $('#search-form'),
  input: $('#search-input'),
  panel: $('#search-panel'),
  status: $('#search-status'),
  results: $('#search-results'),
  more: $('#search-more'),
  close: $('#search-close'),
  search: (q, options) => (client ? client.search(q, options) : Promise.reject(new Error('not connected'))),
  label: (name) => rooms.get(name)?.label ?? (isDirectRoom(name) ? `@${dms.nameOf(name) ?? 'direct'}` : `#${name}`),
  onOpen: (name, seq) => { openHit(name, seq); },
});

// An edit or a delete: the `edit` or `delete` event that every member gets changes the list; a
// refusal is said.
async function changeMessage(request, done) {
  try {
    await request();
    announce(`Message ${done}.`);
  } catch (err) {
    const why = { forbidden: 'not allowed', deleted: 'it was deleted', no_such_message: 'no such message' }[err.code] ?? err.message;
    notice(`Could not change the message: ${why}`);
    announce(`Could not change the message: ${why}`);
  }
}

const roomList = new RoomList({
  list: $('#room-list'),
  mine: $('#my-room-list'),
  browse: $('#directory-list'),
  browseHead: $('#directory-heading'),
  toggle: $('#new-room-toggle'),
  form: $('#create-room-form'),
  input: $('#create-room-name'),
  error: $('#create-room-error'),
  openExisting: $('#create-room-open'),
  search: $('#room-search'),
  more: $('#more-rooms'),
  privateBox: $('#create-room-private'),
  privateHint: $('#create-room-private-hint'),
  passwordRow: $('#create-room-password-row'),
  password: $('#create-room-password'),
  onOpen: (room) => openRoom(room, { focus: true }),
  onCreate: (room, options) => createRoom(room, options),
  onSearch: () => refreshDirectory(),
  onMore: (q, after) => refreshDirectory({ after }),
});

const dmList = new DmList({
  list: $('#dm-list'),
  toggle: $('#new-dm-toggle'),
  form: $('#new-dm-form'),
  input: $('#new-dm-name'),
  error: $('#new-dm-error'),
  hint: $('#dm-hint'),
  onOpen: (room) => openRoom(room, { focus: true }),
  onStart: (name) => dms.start(name),
});
const dms = new Conversations(dmList, {
  client: () => client,
  signedIn: () => signedIn,
  me: () => me,
  rooms,
  ensureRoom: (room) => ensureRoom(room),
  openRoom: (room, options) => openRoom(room, options),
  dropRoom: (room) => dropRoom(room),
  relabel: (room) => relabel(room),
  render: () => renderRooms(),
  tell: (text, { quiet = false } = {}) => { if (!quiet) notice(text); announce(text); },
});

const passwordPrompt = new PasswordPrompt({
  dialog: $('#password-dialog'),
  form: $('#password-form'),
  title: $('#password-dialog-title'),
  input: $('#password-input'),
  error: $('#password-error'),
  cancel: $('#password-cancel'),
});

const settings = new RoomSettings({
  dialog: $('#room-settings'),
  title: $('#room-settings-title'),
  role: $('#room-settings-role'),
  status: $('#room-settings-status'),
  error: $('#room-settings-error'),
  close: $('#room-settings-close'),
  inviteForm: $('#invite-form'),
  inviteInput: $('#invite-name'),
  unbanForm: $('#unban-form'),
  unbanInput: $('#unban-name'),
  membersSection: $('#settings-members-section'),
  members: $('#settings-members'),
  detailsForm: $('#room-details-form'),
  titleInput: $('#room-title-input'),
  topicInput: $('#room-topic-input'),
  leaveButton: $('#room-leave'),
  deleteButton: $('#room-delete'),
  endButtons: $('#room-end-buttons'),
  deleteConfirm: $('#room-delete-confirm'),
  deleteYes: $('#room-delete-yes'),
  deleteNo: $('#room-delete-no'),
  act: (kind, user, options) => moderate(settings.room, kind, user, options),
  leave: (room) => leaveRoom(room),
});
$('#room-settings-open').addEventListener('click', () => {
  if (!active || isDirectRoom(active)) return; // a conversation has no one to invite or remove
  const room = active;
  settings.show(room, client?.roomInfo(room), memberPeople(room), me);
  settings.loadRoster(client, room);
});

const members = new MemberList({
  list: $('#member-list'),
  count: $('#member-count'),
  heading: $('#members-heading'),
  onMessage: (name) => dms.message(name),
});
const typing = new TypingIndicator($('#typing'));
const banner = new ConnectionBanner({
  el: $('#banner'),
  text: $('#banner-text'),
  countdown: $('#banner-countdown'),
  retry: $('#banner-retry'),
  onRetry: () => client?.reconnectNow(),
});
new UserSettings({ dialog: $('#user-settings'), open: $('#user-settings-open'), close: $('#user-settings-close'), form: $('#theme-form') });

// Notifications: asked for from this button (a user gesture), turned off from it too.
function renderNotifySetting() {
  const button = $('#notify-toggle');
  const on = notifications.enabled();
  button.textContent = on ? 'Turn off notifications' : 'Turn on notifications';
  button.setAttribute('aria-pressed', String(on));
  button.disabled = !notifications.supported();
  let status = on ? 'On: mentions and direct messages notify you while Parley is hidden.' : 'Off.';
  if (!notifications.supported()) status = 'This browser cannot show notifications.';
  else if (Notification.permission === 'denied') status = 'Blocked by the browser: allow notifications for this site in its settings.';
  $('#notify-status').textContent = status;
}
$('#notify-toggle').addEventListener('click', async () => {
  await notifications.toggle();
  renderNotifySetting();
});
renderNotifySetting();
const sidebar = new Sidebar({
  app: $('#app'),
  sidebar: $('#sidebar'),
  main: $('#chat'),
  openBtn: $('#sidebar-open'),
  closeBtn: $('#sidebar-close'),
  backdrop: $('#sidebar-backdrop'),
});
const composer = new Composer({
  form: $('#composer'),
  input: $('#composer-input'),
  send: $('#composer-send'),
  count: $('#composer-count'),
  error: $('#composer-error'),
  label: $('#composer-label'),
  announce,
  memberNames: () => [...(rooms.get(active)?.members.keys() ?? [])].filter((n) => n !== me),
  files: () => attachBar.status(),
  onTyping: () => { if (active) client?.typing(active); },
  onSend: (text) => {
    if (!client || !active) return false;
    const room = rooms.get(active);
    if (room) returnToLatest(room); // what is sent goes under the newest messages
    const files = attachBar.ready();
    client.send(active, text, { ...(replyTo?.room === active ? { replyTo: replyTo.seq } : {}), ...(files.length ? { files } : {}) });
    attachBar.clear();
    cancelReply();
    renderPending();
    view.scrollToBottom();
    return true;
  },
});

// ------------------------------------------------------------------ rendering

// Cheap-to-delay parts are re-rendered at most once per frame, so a burst of
// events (a resume backlog, a flushed send queue) does not re-layout per event.
const dirty = new Set();
let renderQueued = false;
function invalidate(...parts) {
  for (const p of parts) dirty.add(p);
  if (renderQueued) return;
  renderQueued = true;
  const run = () => {
    renderQueued = false;
    const parts = new Set(dirty);
    dirty.clear();
    if (parts.has('read')) { const room = rooms.get(active); if (room) markRead(room); }
    if (parts.has('rooms')) renderRooms();
    if (parts.has('members')) renderMembers();
    else if (parts.has('header')) renderHeader();
    if (parts.has('pending')) renderPending();
  };
  // requestAnimationFrame does not run in background tabs; the title must.
  if (document.hidden) setTimeout(run, 50);
  else requestAnimationFrame(run);
}

function renderRooms() {
  roomList.render(active, rooms);
  dmList.render(active, rooms);
  const unreadElsewhere = [...rooms.values()].some((r) => r.name !== active && r.unread > 0);
  $('#menu-unread').hidden = !unreadElsewhere;
  const total = [...rooms.values()].reduce((n, r) => n + r.unread, 0);
  const shown = rooms.get(active);
  document.title = `${total ? `(${total}) ` : ''}${shown ? `${shown.label} · ` : ''}Parley`;
}

// A conversation's header is the other's name (no "#", no id), with no settings: nobody can be
// invited to one, removed from it or given a role there.
function renderHeader() {
  const room = rooms.get(active);
  const direct = Boolean(room?.direct);
  $('#room-title .hash').hidden = direct;
  $('#room-name').textContent = direct ? room.label : (active ?? '');
  $('#room-private').hidden = !room?.private || direct;
  $('#room-settings-open').hidden = direct;
  $('#room-settings-open').setAttribute('aria-label', active ? `Settings of #${active}` : 'Room settings');
  // The owner's title beside the id, and the topic under it (update_room).
  const info = direct ? null : client?.roomInfo(active);
  $('#room-display-title').textContent = info?.title ?? '';
  $('#room-display-title').hidden = !info?.title;
  $('#room-topic').textContent = info?.topic ?? '';
  $('#room-topic').hidden = !info?.topic;
  const online = room ? room.memberList().filter((m) => m.online).length : 0;
  let sub = `${plural(online, 'member', 'members')} online`;
  if (direct) {
    const them = room.with ? room.members.get(room.with) : null;
    sub = `Direct messages · ${them?.online ? `${room.with} is online` : 'only the two of you see them'}`;
  }
  if (client && client.state !== State.CONNECTED) sub = 'Waiting for the connection…';
  else if (!room?.joined) sub = 'Joining…';
  $('#room-sub').textContent = sub;
}

function renderMembers() {
  const room = rooms.get(active);
  members.render(room, me, {
    canMessage: (name) => canMessage({ name, me, signedIn, uid: room?.uids.get(name), inDirect: room?.direct }),
    known: Boolean(client?.connected && room?.joined), // else nobody's presence is known
  });
  renderHeader();
}

function renderPending() {
  const room = rooms.get(active);
  if (!room || !client) return;
  const pending = client.pending(active).filter((p) => !room.cids.has(p.cid));
  view.renderPending(pending, room.failed);
}

function renderMe() {
  $('#me-name').textContent = me ?? '';
  $('#me-guest').hidden = signedIn;
  $('#me-avatar').replaceWith(Object.assign(avatar(me ?? '?'), { id: 'me-avatar' }));
}

// --------------------------------------------------------------------- rooms

function markRead(room) {
  room.unread = 0;
  room.mentions = 0;
  const read = prefs.get('read', {});
  // Back in history (a window), read up to what it shows: what arrived meanwhile is not seen yet.
  const shown = room.hasNewer ? room.windowTop : (client?.lastSeq(room.name) ?? room.newestSeq);
  const seq = Math.max(read[room.name] ?? 0, shown);
  read[room.name] = seq;
  prefs.set('read', read);
  sendRead(room, seq);
}

// An account's mark is the server's too, so that its other devices agree (docs/protocol.md,
// "Read state"): one request at a time per room, for the newest seq seen meanwhile, while joined.
function sendRead(room, seq) {
  if (!signedIn || !room.joined || !client?.connected || !(seq > (room.serverRead ?? 0))) return;
  if (room.readSending) { room.readWanted = Math.max(room.readWanted ?? 0, seq); return; }
  room.readSending = true;
  client.markRead(room.name, seq)
    .then((r) => { room.serverRead = Math.max(room.serverRead ?? 0, r.seq ?? seq); })
    .catch(() => { /* sent again on the next look */ })
    .finally(() => {
      room.readSending = false;
      const wanted = room.readWanted ?? 0;
      room.readWanted = 0;
      if (wanted) sendRead(room, wanted);
    });
}

function rememberRooms() {
  prefs.set('rooms', [...rooms.keys()]);
  prefs.set('active', active);
}

function ensureRoom(name) {
  let room = rooms.get(name);
  if (!room) {
    room = new RoomState(name);
    room.with = dms.nameOf(name);
    rooms.set(name, room);
    client.join(name).catch((err) => onJoinFailed(name, err, { prompt: true }));
    rememberRooms();
  }
  return room;
}

function onJoinFailed(name, err, { prompt = false } = {}) {
  if (err.code === 'disconnected' || err.code === 'closed') return; // re-joined on reconnect
  if (isDirectRoom(name)) return dms.joinFailed(name, err);
  // #general refused us (banned): stay out of it, told why, rather than re-open it in a loop.
  if (name === DEFAULT_ROOM && ['forbidden', 'bad_password', 'no_such_room'].includes(err.code)) {
    const room = rooms.get(name);
    if (room) room.joined = false;
    notice(joinErrorText(err, name), err.rid);
    return renderMembers();
  }
  // A private room: asked for its password when it takes one and the user just opened it;
  // otherwise told why it is out of reach.
  if (['forbidden', 'bad_password', 'rate_limited'].includes(err.code)) {
    const opened = active === name;
    rooms.delete(name);
    rememberRooms();
    if (opened) openRoom(DEFAULT_ROOM);
    else renderRooms();
    if (prompt && opened && needsPassword(err)) {
      passwordPrompt.ask(name, (password) => joinWithPassword(name, password), { returnFocus: $('#composer-input') });
    } else {
      notice(joinErrorText(err, name), err.rid);
      announce(joinErrorText(err, name));
    }
    return;
  }
  // Someone in the room has a name that looks like ours. #general is always joined, so there a
  // guest's name cannot be used: back to the join screen, with the server's explanation. An
  // account keeps its name (and its session): it stays out of #general, told why, until a reload.
  if (err.code === 'confusable_name' && name === DEFAULT_ROOM) {
    if (!signedIn) return leaveApp(`Your name cannot be used in #${name}: ${err.message}`);
    const room = rooms.get(name);
    if (room) room.joined = false;
    notice(`You cannot be in #${name} now: ${err.message}`, err.rid);
    announce(`Could not join #${name}: ${err.message}`);
    return renderMembers();
  }
  rooms.delete(name);
  rememberRooms();
  announce(`Could not join #${name}: ${err.message}`);
  if (active === name) openRoom(DEFAULT_ROOM);
  else renderRooms();
}

function openRoom(name, { focus = false } = {}) {
  const room = ensureRoom(name);
  // "New messages" under the last one read, for as long as the room stays open.
  room.divider = room.unread > 0 ? (room.serverRead || prefs.get('read', {})[name] || 0) : null;
  active = name;
  if (replyTo && replyTo.room !== name) cancelReply();
  rememberRooms();
  if (!document.hidden) markRead(room);
  view.setRoom(room, { from: me, uid: myUid });
  composer.setRoom(room.label);
  attachBar.setRoom(name);
  typing.render(room);
  renderPending();
  renderMembers();
  renderRooms();
  sidebar.closeIfPhone();
  if (focus) composer.focus();
  if (room.loaded) fillScreen(room);
}

// null once created and opened, else what the form says (createRoomError: a taken name is
// offered to open, never opened silently).
async function createRoom(name, options = {}) {
  try {
    await client.create(name, options);
  } catch (err) {
    return createRoomError(err, name, options);
  }
  roomList.addRoom(name, { private: Boolean(options.private) });
  openRoom(name, { focus: true });
  return null;
}

// The password prompt's join: the password goes with this one join and is kept nowhere (a
// member's later joins need none). null once in, else the sentence for the prompt.
async function joinWithPassword(name, password) {
  if (!client?.connected) return 'Not connected. Try again in a moment.';
  const room = rooms.get(name) ?? new RoomState(name);
  rooms.set(name, room);
  try {
    await client.join(name, { password });
  } catch (err) {
    if (rooms.get(name) === room && !room.joined) rooms.delete(name);
    return joinErrorText(err, name);
  }
  roomList.addRoom(name, { private: true });
  openRoom(name);
  return null;
}

// A room out of the joined ones (refused, deleted): forgotten, and #general shown if it was.
function dropRoom(name) {
  rooms.delete(name);
  rememberRooms();
  if (active === name) openRoom(DEFAULT_ROOM);
  else renderRooms();
}

// A conversation's other account became known: the shown room's labels follow.
function relabel(name) {
  const room = rooms.get(name);
  if (!room || name !== active) return;
  composer.setRoom(room.label);
  view.setRoom(room, { from: me, uid: myUid });
  renderMembers();
}

function memberPeople(name) {
  return rooms.get(name)?.memberList().map((m) => ({ name: m.name, online: Boolean(m.online) })) ?? [];
}

// Leave a room (the settings' "Leave room"): out of it, forgotten by this page, still listed if
// public (the directory), and #general shown if it was.
async function leaveRoom(name) {
  if (!name || name === DEFAULT_ROOM) return;
  // A private room's member (not its owner) gives up its place for good: the server takes every
  // session of theirs out, and the `removed` event says "You left" and lets the room go.
  const info = client?.roomInfo(name);
  if (info?.private && info.role && info.role !== 'owner') {
    try { await client.remove(name, me); } catch (err) { notice(actionErrorText(err), err.rid); }
    return;
  }
  try { await client?.leave(name); } catch { /* gone either way: the server forgets a closed session's rooms */ }
  roomList.forget(name);
  dropRoom(name);
  announce(`You left #${name}.`);
}

// The settings panel's requests, for the room it was opened for.
function moderate(room, kind, user, options = {}) {
  if (!client) return Promise.reject(Object.assign(new Error('not connected'), { code: 'disconnected' }));
  if (kind === 'invite') return client.invite(room, user);
  if (kind === 'remove') return client.remove(room, user, options);
  if (kind === 'unban') return client.unban(room, user);
  if (kind === 'update') return client.updateRoom(room, options);
  if (kind === 'delete') return client.deleteRoom(room);
  return client.setRole(room, user, options.role);
}

// The room directory, a page at a time (the server's: limits.rooms_page), filtered by the search
// box; `after` appends the page after it.
async function refreshDirectory({ after } = {}) {
  try {
    const page = await client.roomsPage({ q: roomList.query || undefined, after });
    roomList.setDirectory(page.rooms, { next: page.next, append: Boolean(after) });
    dms.fromDirectory(page.rooms);
    // An account's counts from the server (read state): the same on every device.
    for (const r of page.rooms) {
      const room = rooms.get(r.room);
      if (!room || typeof r.unread !== 'number' || (r.room === active && !document.hidden)) continue;
      room.unread = r.unread;
      room.mentions = r.mentions ?? 0;
      room.serverRead = Math.max(room.serverRead ?? 0, r.last_read ?? 0);
    }
    renderRooms();
  } catch { /* not connected; refreshed on the next welcome */ }
}

// ------------------------------------------------------------------- history

async function loadLatest(room) {
  if (room.hasNewer) { // a window back in history: the newest replace it, gone from the screen at once
    room.clearMessages();
    if (room.name === active) view.render({ keep: 'bottom' });
  }
  room.loaded = false;
  if (room.name === active) view.updateHistoryTop();
  try {
    const page = await client.history(room.name, { limit: PAGE_SIZE });
    room.add(page.messages);
    room.hasMore = page.has_more;
    room.loaded = true;
  } catch (err) {
    if (err.code !== 'disconnected') announce(`Could not load messages: ${err.message}`);
    return; // a resume will retry
  }
  if (room.name === active) {
    view.render({ keep: 'bottom' });
    renderPending();
    renderMembers();
    fillScreen(room);
    if (!document.hidden) markRead(room);
  }
}

// Load older pages until the list can scroll (bounded).
async function fillScreen(room, pages = 0) {
  if (pages >= MAX_AUTO_PAGES || room.name !== active || !room.hasMore || view.scrollable) return;
  await loadOlder();
  fillScreen(room, pages + 1);
}

async function loadOlder() {
  const room = rooms.get(active);
  if (!room || !room.loaded || !room.hasMore || room.loadingOlder) return;
  room.loadingOlder = true;
  view.updateHistoryTop();
  try {
    const page = await client.history(room.name, { before: room.oldestSeq ?? undefined, limit: PAGE_SIZE });
    room.add(page.messages);
    room.hasMore = page.has_more;
  } catch (err) {
    if (err.code !== 'disconnected') announce(`Could not load older messages: ${err.message}`);
  } finally {
    room.loadingOlder = false;
  }
  if (room.name === active) {
    view.render({ keep: 'anchor' });
    renderMembers();
  }
}

// Put a refused message (e.g. too long) back into the composer.
function editFailed(cid) {
  const room = rooms.get(active);
  const failed = room?.failed.get(cid);
  if (!failed) return;
  room.failed.delete(cid);
  // Its files go back too, unless the server no longer has them.
  if (failed.files?.length && failed.code !== 'no_such_file') attachBar.restore(room.name, failed.files);
  composer.setText(failed.text);
  renderPending();
}

function retryFailed(cid) {
  const room = rooms.get(active);
  const failed = room?.failed.get(cid);
  if (!failed) return;
  room.failed.delete(cid);
  client.send(room.name, failed.text, failed.files?.length ? { files: failed.files } : {});
  renderPending();
}

// -------------------------------------------------------------- client events

// What client-events.js works on: this page's state (read through getters, so it is always the
// current one) and its views.
const app = {
  get me() { return me; },
  set me(name) { me = name; },
  get myUid() { return myUid; },
  set myUid(uid) { myUid = uid; },
  get active() { return active; },
  get signedIn() { return signedIn; },
  get client() { return client; },
  get directoryTimer() { return directoryTimer; },
  set directoryTimer(timer) { directoryTimer = timer; },
  rooms, view, banner, composer, roomList, typing, settings, dms,
  invalidate, renderMe, renderMembers, renderPending, renderRooms, renderHeader,
  refreshDirectory, loadLatest, rememberRooms, openRoom, onJoinFailed, helloRefused, notice, announce,
};

// ----------------------------------------------------------------- join/leave

function wsUrl() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

// The hello was refused for good (the client has closed): back to the join screen, told why.
function helloRefused(e) {
  if (signedIn) {
    // The cookie's session has ended (signed out elsewhere, revoked, expired).
    return leaveApp({ message: 'Your session has ended: sign in again.', tab: 'signin', name: me, sessionEnded: true });
  }
  if (e.code === 'unauthorized') {
    prefs.set('guests', false); // next time, the join screen opens on Sign in
    return leaveApp({ message: 'This server needs an account: sign in or create one.', tab: 'signin' });
  }
  if (e.code === 'name_taken') {
    return leaveApp({ message: account.sentence(e.message || 'This name belongs to an account.'), tab: 'guest', name: me, offerSignIn: true });
  }
  leaveApp({ message: e.message || 'That name is not allowed.' });
}

// name: the guest's name, or the account's as the server says it; asAccount: say hello with
// no name, and the server knows us by the session cookie of the WebSocket upgrade.
function enterApp(name, { asAccount = false } = {}) {
  me = name;
  signedIn = asAccount;
  if (asAccount) {
    prefs.set('account', name);
    prefs.set('lastAccount', name);
    prefs.remove('name');
  }
  $('#join-screen').hidden = true;
  $('#app').hidden = false;
  roomList.setAccount(asAccount);
  attachBar.setEnabled(asAccount); // guests cannot upload (the server answers 401)
  // The conversations this browser knew by name (the server's list follows the welcome).
  if (asAccount) dms.restore();
  dmList.setAccount(asAccount);
  renderMe();
  client = new ParleyClient({ url: wsUrl(), name: asAccount ? undefined : name });
  wire(client, app);
  client.connect().catch(() => { /* reported through events */ });
  const saved = prefs.get('rooms', []);
  for (const r of [DEFAULT_ROOM, ...saved]) if (typeof r === 'string') ensureRoom(r);
  const wanted = prefs.get('active', DEFAULT_ROOM);
  openRoom(rooms.has(wanted) ? wanted : DEFAULT_ROOM);
  composer.focus();
}

// Back to the join screen (a reload, which starts everything afresh), forgetting the guest's
// name, the account's session marker and the rooms; error: shown there (see rememberJoinError).
function leaveApp(error) {
  client?.close();
  prefs.remove('name');
  prefs.remove('account');
  prefs.remove('rooms');
  prefs.remove('active');
  Conversations.clear();
  if (typeof error === 'string') rememberJoinError(error);
  else if (error) rememberJoinError(error.message, error);
  location.reload();
}

// Sign out: an account ends its session on the server (which clears the cookie); a guest just
// forgets its name. Either way, back to the join screen.
$('#sign-out').addEventListener('click', async (e) => {
  const button = e.currentTarget;
  if (!signedIn) return leaveApp();
  button.disabled = true;
  const r = await account.logout();
  // 401: the session had ended already, which is signed out too.
  if (r.ok || r.status === 401) return leaveApp();
  button.disabled = false;
  notice(`Could not sign out: ${account.errorText(r)}`);
});

document.addEventListener('visibilitychange', () => {
  const room = rooms.get(active);
  if (!document.hidden && room) { markRead(room); renderRooms(); }
});

document.addEventListener('keydown', (e) => {
  // Alt+ArrowUp / Alt+ArrowDown: previous / next room.
  if (!e.altKey || (e.key !== 'ArrowUp' && e.key !== 'ArrowDown') || !active) return;
  const names = [...document.querySelectorAll('#room-list button[data-room], #dm-list button[data-room]')].map((b) => b.dataset.room);
  const i = names.indexOf(active);
  const next = names[(i + (e.key === 'ArrowDown' ? 1 : names.length - 1)) % names.length];
  if (next && next !== active) { e.preventDefault(); openRoom(next, { focus: true }); }
});

// The join screen's sign in and create account: null once in, else the message to show.
async function signIn(name, password, call) {
  const r = await call(name, password);
  if (!r.ok || !r.user) return account.errorText(r);
  enterApp(r.user.name, { asAccount: true });
  return null;
}

// First the session (an account's survives a reload), then a remembered guest name, then the
// join screen.
async function start() {
  // A session the WebSocket refused just now goes to the join screen even if /api/me still
  // takes its cookie (a proxy that keeps cookies from /ws would otherwise reload in a loop).
  const who = pendingJoinError()?.sessionEnded ? { ok: false, status: 401 } : await account.me();
  if (who.ok && who.user) return enterApp(who.user.name, { asAccount: true });
  // The server cannot say now (down, restarting): a browser that was signed in stays so, and
  // its client says hello when the server is back (refused then if the session has ended).
  const remembered = prefs.get('account');
  if (typeof remembered === 'string' && remembered && (who.status === 0 || who.status >= 500)) {
    return enterApp(remembered, { asAccount: true });
  }
  prefs.remove('account');
  const savedName = prefs.get('name');
  if (savedName && !validateName(savedName)) return enterApp(savedName);
  const lastAccount = prefs.get('lastAccount');
  const known = typeof lastAccount === 'string' && lastAccount ? lastAccount : '';
  showJoin({
    onGuest: (name) => enterApp(name),
    onSignIn: (name, password) => signIn(name, password, account.login),
    onRegister: (name, password) => signIn(name, password, account.register),
    tab: known || prefs.get('guests') === false ? 'signin' : 'guest',
    name: known,
  });
}

start();

// For tests and debugging.
window.parley = { get client() { return client; }, rooms };
