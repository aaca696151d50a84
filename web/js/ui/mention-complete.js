// @-completion in the composer, as emoji-complete.js does for ":sh": typing "@" (at the start or
// after a space) and the start of a name lists the room's members whose names begin with it. ↑/↓
// choose, Enter or Tab puts "@name " in place, Escape closes the list; a click chooses too. The
// box stays the focus (aria-activedescendant follows the choice).

import { h } from './dom.js';
import { mentionQuery } from '../mentions.js';

const LIST_ID = 'mention-suggestions';
const MAX_SHOWN = 8;

export class MentionCompletion {
  /** `input`: the composer's textarea; `names()`: the room's member names; `onInsert` after a choice. */
  constructor(input, names, onInsert) {
    this.input = input;
    this.names = names;
    this.onInsert = onInsert;
    this.items = [];
    this.active = 0;
    this.list = h('ul', { id: LIST_ID, class: 'emoji-suggestions mention-suggestions', role: 'listbox', 'aria-label': 'Members', hidden: true });
    this.list.addEventListener('mousedown', (e) => {
      const li = e.target.closest('li[data-index]');
      if (!li) return;
      e.preventDefault();
      this.accept(Number(li.dataset.index));
    });
    input.closest('.composer-box').after(this.list);
    input.addEventListener('input', () => this.update());
    input.addEventListener('blur', () => this.close());
  }

  get open() { return !this.list.hidden; }

  update() {
    const q = mentionQuery(this.input.value, this.input.selectionStart ?? this.input.value.length);
    const want = q?.query.toLowerCase();
    this.items = q
      ? this.names().filter((n) => n.toLowerCase().startsWith(want)).sort((a, b) => a.localeCompare(b)).slice(0, MAX_SHOWN)
      : [];
    if (!this.items.length) return this.close();
    this.query = q;
    this.active = 0;
    this.list.replaceChildren(...this.items.map((name, i) => h('li', {
      id: `${LIST_ID}-${i}`, role: 'option', dataset: { index: String(i) },
    }, `@${name}`)));
    this.list.hidden = false;
    this.prevControls = this.input.getAttribute('aria-controls');
    this.input.setAttribute('aria-controls', LIST_ID);
    this.input.setAttribute('aria-expanded', 'true');
    this.highlight();
  }

  highlight() {
    [...this.list.children].forEach((li, i) => li.setAttribute('aria-selected', String(i === this.active)));
    this.input.setAttribute('aria-activedescendant', `${LIST_ID}-${this.active}`);
  }

  close() {
    if (!this.open) return;
    this.list.hidden = true;
    this.list.replaceChildren();
    this.items = [];
    if (this.prevControls) this.input.setAttribute('aria-controls', this.prevControls);
    this.input.setAttribute('aria-expanded', 'false');
    this.input.removeAttribute('aria-activedescendant');
  }

  /** The composer's keydown: true if the key was the list's. */
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
      e.stopPropagation();
    } else {
      return false;
    }
    e.preventDefault();
    return true;
  }

  accept(index) {
    const name = this.items[index];
    if (!name) return;
    const { input } = this;
    const caret = input.selectionStart ?? input.value.length;
    const after = input.value.slice(caret);
    const insert = `@${name}${after.startsWith(' ') ? '' : ' '}`;
    input.value = input.value.slice(0, this.query.start) + insert + after;
    const at = this.query.start + insert.length;
    input.setSelectionRange(at, at);
    this.close();
    this.onInsert();
  }
}
