// The message list of the active room: day separators, sender grouping,
// own messages set apart, pending/failed sends, scroll-back and "jump to
// latest". Message text is rendered with text nodes only (see markdown.js).

import { h } from './dom.js';
import { renderMarkdown } from './markdown.js';
import { mentions } from '../mentions.js';
import { dayKey, dayLabel, formatFull, hue, initial, relativeTime, sameSender } from './format.js';
import { EMOJI } from './emoji.js';
import { reactorKey } from '../store.js';
import { attachmentsNode } from './attachments.js';
import { messageFiles } from '../files.js';

const GROUP_GAP_MS = 5 * 60 * 1000;
const NEAR_TOP_PX = 160;
const NEAR_BOTTOM_PX = 80;
const TICK_MS = 60e3; // relative times and day labels are brought up to date once a minute

export function avatar(name, extraClass = '') {
  return h('span', { class: `avatar ${extraClass}`.trim(), 'aria-hidden': 'true', vars: { '--hue': String(hue(name)) } }, initial(name));
}

function sameGroup(prev, m) {
  return prev && sameSender(prev, m) && m.ts - prev.ts < GROUP_GAP_MS && dayKey(prev.ts) === dayKey(m.ts);
}

function timeEl(ts, now) {
  return h('time', { class: 'time', datetime: new Date(ts).toISOString(), title: formatFull(ts), dataset: { ts: String(ts) } }, relativeTime(ts, now));
}

// What one may do to a message: react to and reply to any; edit and delete one's own; delete any
// as a moderator or owner (`moderator`). The server decides again (docs/protocol.md).
function messageActions(m, own, moderator) {
  if (m.deleted) return null;
  return h('div', { class: 'msg-actions' },
    h('button', { type: 'button', class: 'link-btn', dataset: { action: 'react-message' }, 'aria-label': 'Add reaction', 'aria-haspopup': 'true' }, 'React'),
    h('button', { type: 'button', class: 'link-btn', dataset: { action: 'reply-message' }, 'aria-label': 'Reply to message' }, 'Reply'),
    own ? h('button', { type: 'button', class: 'link-btn', dataset: { action: 'edit-message' }, 'aria-label': 'Edit message' }, 'Edit') : null,
    own || moderator ? h('button', { type: 'button', class: 'link-btn', dataset: { action: 'delete-message' }, 'aria-label': 'Delete message' }, 'Delete') : null);
}

// The emoji offered first in the picker (its search finds the rest by shortcode, emoji.js).
export const QUICK_REACTIONS = ['👍', '❤️', '😂', '🎉', '😮', '😢', '🙏', '👀'];

// A short excerpt of a message's text for a quote: its first line, at most `max` code points.
export function excerpt(text, max = 80) {
  const line = String(text ?? '').split('\n').find((l) => l.trim()) ?? '';
  const chars = [...line.trim()];
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : chars.join('');
}

// A reply's quote of the message it answers (`quoted`: that message if loaded): its author and an
// excerpt, or "deleted"; a button that jumps to it (loading history back to it if needed).
function replyQuote(m, quoted) {
  let who = null;
  let what;
  if (!quoted) what = 'an earlier message';
  else if (quoted.deleted) { who = quoted.from; what = 'message deleted'; }
  else { who = quoted.from; what = excerpt(quoted.text); }
  return h('button', {
    type: 'button',
    class: `reply-quote${quoted?.deleted ? ' deleted' : ''}`,
    dataset: { action: 'jump-to', seq: String(m.reply_to) },
    'aria-label': `In reply to ${who ?? 'an earlier message'}${who ? `: ${what}` : ''}. Show it`,
  }, who ? h('span', { class: 'quote-from' }, who) : null, h('span', { class: 'quote-text' }, what));
}

// A message's reactions as chips: the emoji and its count, who reacted in the tooltip; pressed
// when one of them is the user's (a click takes it back, else adds it).
function reactionChips(m, me) {
  if (!m.reactions?.length || m.deleted) return null;
  const mine = me ? reactorKey({ from: me.from, uid: me.uid }) : null;
  return h('div', { class: 'reactions', role: 'group', 'aria-label': 'Reactions' },
    ...m.reactions.map((r) => {
      const names = r.users.map((u) => u.from);
      const pressed = r.users.some((u) => reactorKey(u) === mine);
      return h('button', {
        type: 'button',
        class: `reaction${pressed ? ' mine' : ''}`,
        title: `Reacted by ${names.join(', ')}`,
        'aria-pressed': pressed ? 'true' : 'false',
        'aria-label': `${r.emoji} ${r.count}, reacted by ${names.join(', ')}`,
        dataset: { action: 'toggle-reaction', emoji: r.emoji },
      }, h('span', { class: 'reaction-emoji' }, r.emoji), h('span', { class: 'reaction-count' }, String(r.count)));
    }));
}

// The emoji picker of a message's React: the quick ones, and a search by shortcode (`party` finds
// 🎉) over emoji.js. Sends characters, never shortcodes (the server takes only emoji).
function emojiPicker() {
  const results = h('div', { class: 'emoji-results', role: 'group', 'aria-label': 'Emoji' });
  const show = (list) => results.replaceChildren(...list.map(([name, e]) =>
    h('button', { type: 'button', class: 'emoji-choice', title: name ? `:${name}:` : e, 'aria-label': name ? `React with :${name}:` : `React with ${e}`, dataset: { action: 'pick-emoji', emoji: e } }, e)));
  show(QUICK_REACTIONS.map((e) => [null, e]));
  const search = h('input', { type: 'search', class: 'emoji-search', placeholder: 'Search emoji', 'aria-label': 'Search emoji by name' });
  search.addEventListener('input', () => {
    const q = search.value.trim().toLowerCase().replace(/^:|:$/g, '');
    if (!q) return show(QUICK_REACTIONS.map((e) => [null, e]));
    const seen = new Set();
    const found = [];
    for (const [name, e] of Object.entries(EMOJI)) {
      if (!name.includes(q) || seen.has(e)) continue;
      seen.add(e);
      found.push([name, e]);
      if (found.length >= 24) break;
    }
    show(found);
  });
  return h('div', { class: 'emoji-picker', role: 'dialog', 'aria-label': 'Add a reaction' }, search, results);
}

// One message's list item. `me`: the user, as { from: name, uid }; `prev`: the message above it;
// `moderator`: the user may delete anyone's; `now`: for relative times, on the server's clock;
// `quoteOf`: the loaded message of a seq (for a reply's quote), if any.
export function messageNode(m, me, prev, moderator = false, now = Date.now(), quoteOf = () => null) {
  const own = sameSender(m, me);
  const cont = sameGroup(prev, m);
  const text = m.deleted
    ? h('div', { class: 'text deleted' }, 'message deleted')
    : renderMarkdown(h('div', { class: 'text' }), m.text);
  if (m.edited && !m.deleted) text.append(' ', h('span', { class: 'edited', title: `edited ${formatFull(m.edited)}` }, '(edited)'));
  const bubble = h('div', { class: 'bubble' },
    h('span', { class: own || cont ? 'from sr-only' : 'from' }, own ? 'You' : m.from,
      // A bot of the operator's server API (api.md): its name is whatever the backend chose.
      m.bot === true && !own ? h('span', { class: 'role-tag bot-tag' }, 'bot') : null),
    own || cont ? h('span', { class: 'sr-only' }, ': ') : null,
    m.reply_to ? replyQuote(m, quoteOf(m.reply_to)) : null,
    attachmentsNode(m), // above the text (a caption), so the time stays on the text's last line
    text,
    timeEl(m.ts, now),
    reactionChips(m, me));
  // Beside the bubble, on the side away from the edge.
  const actions = messageActions(m, own, moderator);
  return h('li', {
    class: `msg${own ? ' own' : ''}${cont ? ' cont' : ''}${m.deleted ? ' deleted' : ''}${!own && !m.deleted && mentions(m.text, me?.from) ? ' mentions-me' : ''}`,
    dataset: { seq: String(m.seq), from: m.from, ...(m.uid ? { uid: m.uid } : {}), ...(m.cid ? { cid: m.cid } : {}) },
    vars: { '--hue': String(hue(m.from)) },
  }, own ? actions : (cont ? h('span', { class: 'avatar-gap', 'aria-hidden': 'true' }) : avatar(m.from)), bubble,
  own ? null : actions);
}

// "New messages": above the first message after the user's mark when the room was opened.
function newDivider() {
  return h('li', { class: 'new-divider', role: 'separator' }, h('span', {}, 'New messages'));
}

// "Seen by …" under one's own last message in a small room (docs/protocol.md, "seen").
function seenBy(names) {
  const shown = names.length > 3 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more` : names.join(', ');
  return h('li', { class: 'seen-by' }, `Seen by ${shown}`);
}

function daySeparator(ts) {
  return h('li', { class: 'day-sep', dataset: { day: dayKey(ts), ts: String(ts) } }, h('span', {}, dayLabel(ts)));
}

/**
 * Bring the shown times ("just now" → "1 min" → "9:41 AM") and day labels ("Today" →
 * "Yesterday") up to date in place: text only, no node made or moved, so the list is not
 * re-rendered, its scroll position is kept and a screen reader hears nothing. Exported for tests.
 */
export function refreshTimes(list, now = Date.now()) {
  for (const t of list.querySelectorAll('time.time[data-ts]')) {
    const text = relativeTime(Number(t.dataset.ts), now);
    if (t.textContent !== text) t.textContent = text;
  }
  for (const sep of list.querySelectorAll('li.day-sep[data-ts]')) {
    const span = sep.firstElementChild;
    const text = dayLabel(Number(sep.dataset.ts), now);
    if (span && span.textContent !== text) span.textContent = text;
  }
}

// The files of a send not yet acknowledged (or refused): their names, as text.
function pendingFiles(files) {
  if (!files?.length) return null;
  return h('ul', { class: 'pending-files', 'aria-label': 'Files' }, ...files.map((f) => h('li', {}, f.name)));
}

function pendingNode(p) {
  return h('li', { class: 'msg own pending', dataset: { cid: p.cid } },
    h('div', { class: 'bubble' },
      h('span', { class: 'sr-only' }, 'You (sending): '),
      renderMarkdown(h('div', { class: 'text' }), p.text),
      pendingFiles(p.files),
      h('span', { class: 'time status' }, 'Sending…')));
}

function failedNode(cid, f) {
  return h('li', { class: 'msg own failed', dataset: { cid } },
    h('div', { class: 'bubble' },
      h('span', { class: 'sr-only' }, 'You (not sent): '),
      renderMarkdown(h('div', { class: 'text' }), f.text),
      pendingFiles(f.files)),
    h('div', { class: 'failed-row' },
      h('span', { class: 'failed-reason' }, f.reason),
      f.retryable
        ? h('button', { type: 'button', class: 'link-btn', dataset: { action: 'retry' } }, 'Retry')
        : h('button', { type: 'button', class: 'link-btn', dataset: { action: 'edit' } }, 'Edit'),
      h('button', { type: 'button', class: 'link-btn', dataset: { action: 'discard' } }, 'Discard')));
}

export class MessageView {
  // now: the time on the server's clock (messages' ts are the server's), for "just now".
  constructor({ scroller, list, pendingList, loadOlder, historyStatus, loadNewer, newerStatus, jump, jumpText, onLoadOlder, onLoadNewer = () => {}, onJumpLatest = () => {}, onRetry, onEdit, onDiscard, onEditMessage, onDeleteMessage, onReact = () => {}, onReply = () => {}, onJumpTo = () => {}, onViewFile = () => {}, now = Date.now }) {
    Object.assign(this, { scroller, list, pendingList, loadOlderBtn: loadOlder, historyStatus, loadNewerBtn: loadNewer, newerStatus, jump, jumpText, now });
    this.onLoadOlder = onLoadOlder;
    this.onLoadNewer = onLoadNewer;
    this.room = null;
    this.me = null;
    this.last = null;     // last rendered message
    this.unseen = 0;      // new messages below the fold

    scroller.addEventListener('scroll', () => this._onScroll(), { passive: true });
    setInterval(() => refreshTimes(this.list, this.now()), TICK_MS);
    loadOlder.addEventListener('click', () => this.onLoadOlder());
    loadNewer?.addEventListener('click', () => this.onLoadNewer());
    // Back in history (a window: RoomState.hasNewer), "Jump to latest" loads the newest messages.
    jump.addEventListener('click', () => {
      if (this.room?.hasNewer) onJumpLatest();
      else this.scrollToBottom();
      this.scroller.focus({ preventScroll: true });
    });
    // A message's Edit opens a form in its place (Enter saves, Escape cancels); Delete asks first.
    list.addEventListener('click', (e) => {
      const btn = e.target.closest('button[data-action]');
      const li = btn?.closest('li.msg');
      if (!li) return;
      const seq = Number(li.dataset.seq);
      const action = btn.dataset.action;
      if (action === 'edit-message') this._openEdit(li, seq, onEditMessage);
      else if (action === 'delete-message') onDeleteMessage(seq);
      else if (action === 'cancel-edit') this.render();
      else if (action === 'react-message') this._togglePicker(li, btn);
      else if (action === 'pick-emoji') { this._closePicker(); onReact(seq, btn.dataset.emoji, true); }
      else if (action === 'toggle-reaction') onReact(seq, btn.dataset.emoji, btn.getAttribute('aria-pressed') !== 'true');
      else if (action === 'reply-message') onReply(seq);
      else if (action === 'jump-to') onJumpTo(Number(btn.dataset.seq));
      else if (action === 'view-file') {
        const file = messageFiles(this.room?.messages.get(seq)).find((f) => f.id === btn.dataset.fileId);
        if (file) onViewFile(file, btn);
      }
    });
    list.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.picker) { e.preventDefault(); this._closePicker(true); }
    });
    pendingList.addEventListener('click', (e) => {
      const btn = e.target.closest('button[data-action]');
      if (!btn) return;
      const cid = btn.closest('li').dataset.cid;
      if (btn.dataset.action === 'retry') onRetry(cid);
      else if (btn.dataset.action === 'edit') onEdit(cid);
      else onDiscard(cid);
    });
  }

  /** Show a room (full render, scrolled to the newest message). `me`: { from: name, uid }. */
  setRoom(room, me) {
    this.room = room;
    this.me = me;
    this.scroller.setAttribute('aria-label', room.direct ? `Messages with ${room.label}` : `Messages in ${room.label}`);
    this.unseen = 0;
    this.render({ keep: 'bottom' });
  }

  /**
   * Re-render every loaded message. keep: 'bottom' sticks to the newest
   * message, 'anchor' keeps what is on screen where it is (used when older
   * history is inserted above), 'top' keeps the scroll position (newer
   * history appended below, in a window back in history).
   */
  render({ keep = 'anchor' } = {}) {
    const { scroller } = this;
    const fromBottom = scroller.scrollHeight - scroller.scrollTop;
    const { scrollTop } = scroller;
    const stick = keep === 'bottom' || (keep === 'anchor' && !this.room.hasNewer && this.atBottom());
    const items = [];
    let prev = null;
    const { divider, seen } = this.room;
    let divided = divider === null || divider === undefined;
    // One's own last message, and the others who have read it.
    const all = this.room.sorted();
    const lastOwn = seen?.size ? all.findLast((m) => sameSender(m, this.me)) : null;
    for (const m of all) {
      if (!divided && m.seq > divider) {
        items.push(newDivider());
        divided = true;
      }
      if (!prev || dayKey(prev.ts) !== dayKey(m.ts)) { items.push(daySeparator(m.ts)); prev = null; }
      items.push(messageNode(m, this.me, prev, this.moderator, this.now(), this._quoteOf));
      prev = m;
      if (m === lastOwn) {
        const names = [...seen].filter(([name, seq]) => name !== this.me?.from && seq >= m.seq).map(([name]) => name).sort();
        if (names.length) items.push(seenBy(names));
      }
    }
    this.picker = null;
    this.last = prev;
    this.list.replaceChildren(...items);
    this.updateHistoryTop();
    this.updateHistoryBottom();
    if (stick) this.scrollToBottom();
    else scroller.scrollTop = keep === 'top' ? scrollTop : scroller.scrollHeight - fromBottom;
    this._updateJump();
  }

  /** A live message for the shown room. Returns true if it was appended. */
  add(m) {
    // Back in history, a live message is not shown (it would follow the window as if next): said.
    if (this.room.hasNewer) {
      this.unseen++;
      this._updateJump();
      return false;
    }
    // Out of order, or a "seen by" line that must move under one's newest message: all again.
    if ((this.last && m.seq < this.last.seq) || this.room.seen?.size) { this.render(); return true; }
    const stick = this.atBottom() || sameSender(m, this.me);
    let prev = this.last;
    if (!prev || dayKey(prev.ts) !== dayKey(m.ts)) { this.list.append(daySeparator(m.ts)); prev = null; }
    this.list.append(messageNode(m, this.me, prev, this.moderator, this.now(), this._quoteOf));
    this.last = m;
    if (this.room.messages.size === 1) this.updateHistoryTop();
    if (stick) this.scrollToBottom();
    else {
      this.unseen++;
      this._updateJump();
    }
    return true;
  }

  // The button to the newest messages: shown with the count of those below the fold, and always
  // while a window back in history is shown.
  _updateJump() {
    const away = Boolean(this.room?.hasNewer);
    this.jump.hidden = !away && this.unseen === 0;
    if (this.unseen) this.jumpText.textContent = this.unseen === 1 ? '1 new message' : `${this.unseen} new messages`;
    else this.jumpText.textContent = away ? 'Jump to latest' : 'New messages';
  }

  get _quoteOf() { return (seq) => this.room?.messages.get(seq) ?? null; }

  // One picker at a time, under its message; Escape or a second click closes it.
  _togglePicker(li, btn) {
    const open = this.picker?.li === li;
    this._closePicker();
    if (open) return;
    const node = emojiPicker();
    li.querySelector('.bubble')?.after(node);
    this.picker = { li, node, btn };
    btn.setAttribute('aria-expanded', 'true');
    node.querySelector('.emoji-choice')?.focus();
  }

  _closePicker(refocus = false) {
    if (!this.picker) return;
    const { node, btn } = this.picker;
    node.remove();
    btn.setAttribute('aria-expanded', 'false');
    if (refocus) btn.focus();
    this.picker = null;
  }

  /**
   * Show message `seq` (a reply's quote clicked): scrolled into view and marked for a moment.
   * Returns false if it is not loaded (the app loads history back to it, then calls again).
   */
  showMessage(seq) {
    const li = this.list.querySelector(`li.msg[data-seq="${Number(seq)}"]`);
    if (!li) return false;
    li.scrollIntoView({ block: 'center' });
    li.classList.remove('flash');
    void li.offsetWidth; // restart the animation
    li.classList.add('flash');
    li.setAttribute('tabindex', '-1');
    li.focus({ preventScroll: true });
    return true;
  }

  _openEdit(li, seq, onEditMessage) {
    const m = this.room?.messages.get(seq);
    const textEl = li.querySelector('.text');
    if (!m || !textEl) return;
    const input = h('textarea', { class: 'edit-input', rows: '2', 'aria-label': 'Edit message' });
    input.value = m.text;
    const form = h('form', { class: 'edit-form' }, input,
      h('div', { class: 'edit-row' },
        h('button', { type: 'submit', class: 'link-btn' }, 'Save'),
        h('button', { type: 'button', class: 'link-btn', dataset: { action: 'cancel-edit' } }, 'Cancel')));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const text = input.value;
      if (text.trim() && text !== m.text) onEditMessage(seq, text);
      this.render();
    });
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
      else if (e.key === 'Escape') { e.preventDefault(); this.render(); }
    });
    textEl.replaceWith(form);
    li.querySelector('.msg-actions')?.remove();
    input.focus();
  }

  /** Render the sends that are queued (not acked yet) or failed; keyed by cid. */
  renderPending(pending, failed) {
    const stick = this.atBottom();
    const want = [
      ...pending.map((p) => [`p:${p.cid}`, () => pendingNode(p)]),
      ...[...failed].map(([cid, f]) => [`f:${cid}`, () => failedNode(cid, f)]),
    ];
    const existing = new Map([...this.pendingList.children].map((li) => [li.dataset.key, li]));
    const keys = new Set(want.map(([key]) => key));
    for (const [key, li] of existing) if (!keys.has(key)) li.remove();
    want.forEach(([key, build], i) => {
      let node = existing.get(key);
      if (!node) { node = build(); node.dataset.key = key; }
      const at = this.pendingList.children[i];
      if (at !== node) this.pendingList.insertBefore(node, at ?? null);
    });
    if (stick) this.scrollToBottom();
  }

  updateHistoryTop() {
    const room = this.room;
    if (!room) return;
    const empty = room.messages.size === 0;
    this.loadOlderBtn.hidden = !(room.hasMore && !room.loadingOlder);
    let status = '';
    if (room.loadingOlder || !room.loaded) status = 'Loading messages…';
    else if (room.hasMore === false && room.direct) {
      status = empty ? `No messages with ${room.label} yet. Say hello!` : `This is the beginning of your conversation with ${room.label}.`;
    } else if (room.hasMore === false) status = empty ? `No messages in ${room.label} yet. Say hello!` : `This is the beginning of ${room.label}.`;
    this.historyStatus.textContent = status;
    this.historyStatus.classList.toggle('start', room.hasMore === false);
  }

  updateHistoryBottom() {
    const room = this.room;
    if (!room || !this.loadNewerBtn) return;
    this.loadNewerBtn.hidden = !(room.hasNewer && !room.loadingNewer);
    this.newerStatus.textContent = room.hasNewer && room.loadingNewer ? 'Loading newer messages…' : '';
  }

  atBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    if (this.room?.hasNewer) return; // newer pages load from here; the count stays
    this.unseen = 0;
    this._updateJump();
  }

  /** May the user delete anyone's message here (the room's owner or a moderator)? */
  get moderator() { return this.room?.role === 'owner' || this.room?.role === 'moderator'; }

  /** Is there room to scroll? (If not, the app loads more history.) */
  get scrollable() { return this.scroller.scrollHeight > this.scroller.clientHeight + 8; }

  _onScroll() {
    if (this.atBottom() && !this.room?.hasNewer) { this.unseen = 0; this._updateJump(); }
    if (this.atBottom() && this.room?.hasNewer && !this.room.loadingNewer) this.onLoadNewer();
    if (this.scroller.scrollTop < NEAR_TOP_PX && this.room?.hasMore && !this.room.loadingOlder) this.onLoadOlder();
  }
}
