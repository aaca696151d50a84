// Emoji completion in the composer: typing ":sh" (a colon at the start or after a space, then
// two or more name characters) lists the matching shortcodes above the box. ↑/↓ choose, Enter or
// Tab puts the emoji in place of ":sh", Escape closes the list; a click chooses too. The box is
// an ARIA combobox-style textarea (aria-autocomplete, aria-expanded, aria-activedescendant), so a
// screen reader follows the choice while the focus stays in the box.

import { h } from './dom.js';
import { suggestEmoji } from './emoji.js';

const QUERY = /(?:^|[\s(])(:[a-z0-9_+-]{2,32})$/i;
const LIST_ID = 'emoji-suggestions';

/** The shortcode being typed just before the caret (":sh"), or null. Pure; exported for tests. */
export function emojiQuery(value, caret) {
  const m = QUERY.exec(value.slice(Math.max(0, caret - 40), caret));
  return m ? m[1] : null;
}

export class EmojiCompletion {
  /** `input`: the composer's textarea; `onInsert`: called after an emoji replaced the query. */
  constructor(input, onInsert) {
    this.input = input;
    this.onInsert = onInsert;
    this.items = [];
    this.active = 0;
    this.list = h('ul', { id: LIST_ID, class: 'emoji-suggestions', role: 'listbox', 'aria-label': 'Emoji', hidden: true });
    // mousedown, not click: the box keeps the focus (and its caret) while one is chosen.
    this.list.addEventListener('mousedown', (e) => {
      const li = e.target.closest('li[data-index]');
      if (!li) return;
      e.preventDefault();
      this.accept(Number(li.dataset.index));
    });
    input.closest('.composer-box').after(this.list);
    input.setAttribute('aria-autocomplete', 'list');
    input.setAttribute('aria-controls', LIST_ID);
    input.setAttribute('aria-expanded', 'false');
    input.addEventListener('input', () => this.update());
    input.addEventListener('blur', () => this.close());
  }

  get open() { return !this.list.hidden; }

  update() {
    const query = emojiQuery(this.input.value, this.input.selectionStart ?? this.input.value.length);
    this.items = query ? suggestEmoji(query.slice(1)) : [];
    if (!this.items.length) return this.close();
    this.query = query;
    this.active = 0;
    this.list.replaceChildren(...this.items.map((item, i) => h('li', {
      id: `${LIST_ID}-${i}`, role: 'option', dataset: { index: String(i) },
    }, h('span', { class: 'emoji', 'aria-hidden': 'true' }, item.emoji), ` :${item.name}:`)));
    this.list.hidden = false;
    this.input.setAttribute('aria-expanded', 'true');
    this.highlight();
  }

  highlight() {
    [...this.list.children].forEach((li, i) => li.setAttribute('aria-selected', String(i === this.active)));
    this.input.setAttribute('aria-activedescendant', `${LIST_ID}-${this.active}`);
    this.list.children[this.active]?.scrollIntoView?.({ block: 'nearest' });
  }

  close() {
    if (!this.open) return;
    this.list.hidden = true;
    this.list.replaceChildren();
    this.items = [];
    this.input.setAttribute('aria-expanded', 'false');
    this.input.removeAttribute('aria-activedescendant');
  }

  /** The composer's keydown, first: true if the key was the list's (and must do nothing else). */
  onKeyDown(e) {
    if (!this.open || e.isComposing) return false;
    const n = this.items.length;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      this.active = (this.active + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
      this.highlight();
    } else if ((e.key === 'Enter' || e.key === 'Tab') && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey) {
      this.accept(this.active);
    } else if (e.key === 'Escape') {
      this.close();
      e.stopPropagation(); // the list's Escape, not the drawer's or a dialog's
    } else {
      return false;
    }
    e.preventDefault();
    return true;
  }

  accept(index) {
    const item = this.items[index];
    if (!item) return;
    const { input } = this;
    const caret = input.selectionStart ?? input.value.length;
    const start = caret - this.query.length;
    const after = input.value.slice(caret);
    const insert = after.startsWith(' ') ? item.emoji : `${item.emoji} `;
    input.value = input.value.slice(0, start) + insert + after;
    input.setSelectionRange(start + insert.length, start + insert.length);
    this.close();
    this.onInsert();
  }
}
