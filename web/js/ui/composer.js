// Message composer: Enter sends, Shift+Enter adds a line, grows with its
// content, shows the length limit, and reports typing (the client throttles).

import { hasVisible, textLength } from './format.js';

const MAX_HEIGHT_PX = 200;

export class Composer {
  constructor({ form, input, send, count, label, onSend, onTyping, announce }) {
    Object.assign(this, { form, input, sendBtn: send, count, label, onSend, onTyping, announce });
    this.limit = 4000;
    this.over = false;

    input.addEventListener('keydown', (e) => {
      if (e.key !== 'Enter' || e.shiftKey || e.altKey || e.ctrlKey || e.metaKey) return;
      if (e.isComposing || e.keyCode === 229) return; // IME candidate selection
      e.preventDefault();
      this.submit();
    });
    input.addEventListener('input', () => {
      this.update();
      if (hasVisible(input.value)) this.onTyping();
    });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    this.update();
  }

  setLimit(limit) {
    if (Number.isInteger(limit) && limit > 0) this.limit = limit;
    this.update();
  }

  /** label: how the room is named ("#general", or a conversation's other account). */
  setRoom(label) {
    this.label.textContent = `Message ${label}`;
    this.input.placeholder = `Message ${label}`;
  }

  focus() { this.input.focus({ preventScroll: true }); }

  setText(text) {
    this.input.value = text;
    this.update();
    this.focus();
  }

  submit() {
    const text = this.input.value;
    if (!hasVisible(text) || this.over) {
      if (this.over) this.announce(`Message is too long: the limit is ${this.limit} characters.`);
      return;
    }
    if (this.onSend(text) === false) return;
    this.input.value = '';
    this.update();
  }

  update() {
    const len = textLength(this.input.value);
    const wasOver = this.over;
    this.over = len > this.limit;
    this.count.textContent = `${len.toLocaleString()} / ${this.limit.toLocaleString()}`;
    this.count.classList.toggle('near', len >= this.limit * 0.9 && !this.over);
    this.count.classList.toggle('over', this.over);
    this.count.title = `Messages can be up to ${this.limit} characters`;
    this.input.setAttribute('aria-invalid', String(this.over));
    if (this.over && !wasOver) this.announce(`Message is too long: the limit is ${this.limit} characters.`);
    this.sendBtn.disabled = !hasVisible(this.input.value) || this.over;
    // Grow with the content, up to a limit.
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight, MAX_HEIGHT_PX)}px`;
  }
}
