// The message list of the active room: day separators, sender grouping,
// own messages set apart, pending/failed sends, scroll-back and "jump to
// latest". Message text is rendered with text nodes only (see markdown.js).

import { h } from './dom.js';
import { renderMarkdown } from './markdown.js';
import { dayKey, dayLabel, formatFull, hue, initial, relativeTime, sameSender } from './format.js';

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

// What one may do to a message: edit and delete one's own; delete any as a moderator or owner
// (`moderator`). The server decides again (docs/protocol.md, "edit and delete").
function messageActions(m, own, moderator) {
  if (m.deleted || (!own && !moderator)) return null;
  return h('div', { class: 'msg-actions' },
    own ? h('button', { type: 'button', class: 'link-btn', dataset: { action: 'edit-message' }, 'aria-label': 'Edit message' }, 'Edit') : null,
    h('button', { type: 'button', class: 'link-btn', dataset: { action: 'delete-message' }, 'aria-label': 'Delete message' }, 'Delete'));
}

// One message's list item. `me`: the user, as { from: name, uid }; `prev`: the message above it;
// `moderator`: the user may delete anyone's; `now`: for relative times, on the server's clock.
export function messageNode(m, me, prev, moderator = false, now = Date.now()) {
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
    text,
    timeEl(m.ts, now));
  // Beside the bubble, on the side away from the edge.
  const actions = messageActions(m, own, moderator);
  return h('li', {
    class: `msg${own ? ' own' : ''}${cont ? ' cont' : ''}${m.deleted ? ' deleted' : ''}`,
    dataset: { seq: String(m.seq), from: m.from, ...(m.uid ? { uid: m.uid } : {}), ...(m.cid ? { cid: m.cid } : {}) },
    vars: { '--hue': String(hue(m.from)) },
  }, own ? actions : (cont ? h('span', { class: 'avatar-gap', 'aria-hidden': 'true' }) : avatar(m.from)), bubble,
  own ? null : actions);
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

function pendingNode(p) {
  return h('li', { class: 'msg own pending', dataset: { cid: p.cid } },
    h('div', { class: 'bubble' },
      h('span', { class: 'sr-only' }, 'You (sending): '),
      renderMarkdown(h('div', { class: 'text' }), p.text),
      h('span', { class: 'time status' }, 'Sending…')));
}

function failedNode(cid, f) {
  return h('li', { class: 'msg own failed', dataset: { cid } },
    h('div', { class: 'bubble' },
      h('span', { class: 'sr-only' }, 'You (not sent): '),
      renderMarkdown(h('div', { class: 'text' }), f.text)),
    h('div', { class: 'failed-row' },
      h('span', { class: 'failed-reason' }, f.reason),
      f.retryable
        ? h('button', { type: 'button', class: 'link-btn', dataset: { action: 'retry' } }, 'Retry')
        : h('button', { type: 'button', class: 'link-btn', dataset: { action: 'edit' } }, 'Edit'),
      h('button', { type: 'button', class: 'link-btn', dataset: { action: 'discard' } }, 'Discard')));
}

export class MessageView {
  // now: the time on the server's clock (messages' ts are the server's), for "just now".
  constructor({ scroller, list, pendingList, loadOlder, historyStatus, jump, jumpText, onLoadOlder, onRetry, onEdit, onDiscard, onEditMessage, onDeleteMessage, now = Date.now }) {
    Object.assign(this, { scroller, list, pendingList, loadOlderBtn: loadOlder, historyStatus, jump, jumpText, now });
    this.onLoadOlder = onLoadOlder;
    this.room = null;
    this.me = null;
    this.last = null;     // last rendered message
    this.unseen = 0;      // new messages below the fold

    scroller.addEventListener('scroll', () => this._onScroll(), { passive: true });
    setInterval(() => refreshTimes(this.list, this.now()), TICK_MS);
    loadOlder.addEventListener('click', () => this.onLoadOlder());
    jump.addEventListener('click', () => { this.scrollToBottom(); this.scroller.focus({ preventScroll: true }); });
    // A message's Edit opens a form in its place (Enter saves, Escape cancels); Delete asks first.
    list.addEventListener('click', (e) => {
      const btn = e.target.closest('button[data-action]');
      const li = btn?.closest('li.msg');
      if (!li) return;
      const seq = Number(li.dataset.seq);
      if (btn.dataset.action === 'edit-message') this._openEdit(li, seq, onEditMessage);
      else if (btn.dataset.action === 'delete-message') onDeleteMessage(seq);
      else if (btn.dataset.action === 'cancel-edit') this.render();
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
   * history is inserted above).
   */
  render({ keep = 'anchor' } = {}) {
    const { scroller } = this;
    const fromBottom = scroller.scrollHeight - scroller.scrollTop;
    const stick = keep === 'bottom' || this.atBottom();
    const items = [];
    let prev = null;
    for (const m of this.room.sorted()) {
      if (!prev || dayKey(prev.ts) !== dayKey(m.ts)) { items.push(daySeparator(m.ts)); prev = null; }
      items.push(messageNode(m, this.me, prev, this.moderator, this.now()));
      prev = m;
    }
    this.last = prev;
    this.list.replaceChildren(...items);
    this.updateHistoryTop();
    if (stick) this.scrollToBottom();
    else scroller.scrollTop = scroller.scrollHeight - fromBottom;
  }

  /** A live message for the shown room. Returns true if it was appended. */
  add(m) {
    if (this.last && m.seq < this.last.seq) { this.render(); return true; }
    const stick = this.atBottom() || sameSender(m, this.me);
    let prev = this.last;
    if (!prev || dayKey(prev.ts) !== dayKey(m.ts)) { this.list.append(daySeparator(m.ts)); prev = null; }
    this.list.append(messageNode(m, this.me, prev, this.moderator, this.now()));
    this.last = m;
    if (this.room.messages.size === 1) this.updateHistoryTop();
    if (stick) this.scrollToBottom();
    else {
      this.unseen++;
      this.jumpText.textContent = this.unseen === 1 ? '1 new message' : `${this.unseen} new messages`;
      this.jump.hidden = false;
    }
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

  atBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.unseen = 0;
    this.jump.hidden = true;
  }

  /** May the user delete anyone's message here (the room's owner or a moderator)? */
  get moderator() { return this.room?.role === 'owner' || this.room?.role === 'moderator'; }

  /** Is there room to scroll? (If not, the app loads more history.) */
  get scrollable() { return this.scroller.scrollHeight > this.scroller.clientHeight + 8; }

  _onScroll() {
    if (this.atBottom()) { this.unseen = 0; this.jump.hidden = true; }
    if (this.scroller.scrollTop < NEAR_TOP_PX && this.room?.hasMore && !this.room.loadingOlder) this.onLoadOlder();
  }
}
