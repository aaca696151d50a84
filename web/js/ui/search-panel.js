// The search box and its results (docs/protocol.md, "search"): a form in the room's header, a
// panel of hits under it (room, author, time, the text with the matched words marked), "More
// results" for the next page, a hit chosen: onOpen(room, seq). Ctrl+K or "/" (outside a text
// field) focuses the box; Escape closes the panel. Text is only ever text nodes and <mark>s.

import { h } from './dom.js';
import { formatTime, dayLabel } from './format.js';
import { highlight, searchTerms } from '../search.js';

export class SearchPanel {
  /**
   * search(q, {before}): resolves {hits, next} or rejects with the server's error; label(room):
   * how a room is named to the user; onOpen(room, seq): a hit was chosen.
   */
  constructor({ form, input, panel, status, results, more, close, search, label, onOpen, now = Date.now }) {
    Object.assign(this, { form, input, panel, status, results, more, search, label, onOpen, now });
    this.q = '';
    this.next = null;
    this.busy = false;
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.run(input.value);
    });
    more.addEventListener('click', () => this.page());
    close.addEventListener('click', () => this.hide({ refocus: true }));
    results.addEventListener('click', (e) => {
      const btn = e.target.closest('button[data-room]');
      if (!btn) return;
      this.hide();
      onOpen(btn.dataset.room, Number(btn.dataset.seq));
    });
    panel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') { e.preventDefault(); this.hide({ refocus: true }); }
    });
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && !panel.hidden) { e.preventDefault(); this.hide(); }
    });
    document.addEventListener('keydown', (e) => {
      const typing = e.target.closest?.('input, textarea, select, [contenteditable="true"]');
      if (((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'k') || (e.key === '/' && !typing && !e.ctrlKey && !e.metaKey && !e.altKey)) {
        e.preventDefault();
        input.focus();
        input.select();
      }
    });
  }

  /** A new search: its first page. */
  async run(q) {
    q = q.trim();
    if (!searchTerms(q).length) {
      this.show();
      this.results.replaceChildren();
      this.more.hidden = true;
      this.status.textContent = 'Type a word to search for.';
      return;
    }
    this.q = q;
    this.next = null;
    this.results.replaceChildren();
    await this.page();
  }

  async page() {
    if (this.busy) return;
    const q = this.q;
    this.busy = true;
    this.show();
    this.status.textContent = 'Searching…';
    this.more.hidden = true;
    try {
      const page = await this.search(q, this.next ? { before: this.next } : {});
      if (q !== this.q) return; // a newer search took over
      this.next = page.next ?? null;
      this.results.append(...page.hits.map((hit) => this.item(hit)));
      const n = this.results.children.length;
      this.status.textContent = n === 0 ? `No messages match “${q}”.` : `${n}${this.next ? '+' : ''} ${n === 1 ? 'message matches' : 'messages match'} “${q}”.`;
      this.more.hidden = !this.next;
    } catch (err) {
      this.status.textContent = err.code === 'rate_limited'
        ? 'Too many searches; wait a moment and try again.'
        : `Could not search: ${err.message ?? err}`;
    } finally {
      this.busy = false;
    }
  }

  item(hit) {
    const text = h('p', { class: 'search-hit-text' },
      highlight(hit.text, this.q).map((run) => (run.mark ? h('mark', {}, run.text) : run.text)));
    const when = `${dayLabel(hit.ts, this.now())} ${formatTime(hit.ts)}`;
    return h('li', { class: 'search-hit-item' },
      h('button', { type: 'button', class: 'search-hit', dataset: { room: hit.room, seq: String(hit.seq) } },
        h('span', { class: 'search-hit-meta' },
          h('span', { class: 'search-hit-room' }, this.label(hit.room)),
          h('span', { class: 'search-hit-from' }, hit.from),
          h('time', { class: 'search-hit-time', datetime: new Date(hit.ts).toISOString() }, when)),
        text));
  }

  show() { this.panel.hidden = false; }

  hide({ refocus = false } = {}) {
    this.panel.hidden = true;
    if (refocus) this.input.focus();
  }
}
