// Message composer: Enter sends, Shift+Enter adds a line, grows with its
// content, shows the length limit, and reports typing (the client throttles).
// ":sh" offers emoji (emoji-complete.js) and "@na" the room's members (mention-complete.js);
// while such a list is open, it has the keys.
// Over the limit, a message under the box says so (and the live region, once
// when the text goes over and again on each Enter), and Enter draws the eye to
// it rather than doing nothing.

import { hasVisible, textLength } from './format.js';
import { EmojiCompletion } from './emoji-complete.js';
import { MentionCompletion } from './mention-complete.js';

const MAX_HEIGHT_PX = 200;

const count = (n) => n.toLocaleString('en');

/** The sentence under the composer when the text is over the limit (code points, like the server). */
export function overLimitText(length, limit) {
  return `Message is ${count(length)} characters; the limit is ${count(limit)}`;
}

export class Composer {
  // files(): the attachments' { count, busy, failed } (attach-bar.js): with files the text may be
  // empty; while one uploads, or one was refused (until removed), nothing is sent.
  constructor({ form, input, send, count, error, label, onSend, onTyping, announce, memberNames = () => [], files = () => ({ count: 0, busy: false, failed: false }) }) {
    Object.assign(this, { form, input, sendBtn: send, count, error, label, onSend, onTyping, announce, files });
    this.limit = 4000;
    this.over = false;
    this.emoji = new EmojiCompletion(input, () => this.update());
    this.mention = new MentionCompletion(input, memberNames, () => this.update());

    input.addEventListener('keydown', (e) => {
      if (this.emoji.onKeyDown(e)) return; // the emoji list's keys (↑ ↓ Enter Tab Escape) while it is open
      if (this.mention.onKeyDown(e)) return; // the same for the members list
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
    if (this.over) return this.pointAtError();
    const files = this.files();
    if (files.busy || files.failed) return;
    if (!hasVisible(text) && files.count === 0) return;
    if (this.onSend(hasVisible(text) ? text : '') === false) return;
    this.input.value = '';
    this.emoji.close();
    this.mention.close();
    this.update();
  }

  // Enter (or Send) over the limit: the message is shown already; say it again, and make it blink
  // twice (not under reduced motion), with the focus left in the box to shorten the text.
  pointAtError() {
    this.announce(this.error.textContent);
    this.error.classList.remove('attention');
    void this.error.offsetWidth; // restart the animation
    this.error.classList.add('attention');
    this.error.scrollIntoView?.({ block: 'nearest' });
  }

  update() {
    const len = textLength(this.input.value);
    const wasOver = this.over;
    this.over = len > this.limit;
    this.count.textContent = `${count(len)} / ${count(this.limit)}`;
    this.count.classList.toggle('near', len >= this.limit * 0.9 && !this.over);
    this.count.classList.toggle('over', this.over);
    this.count.title = `Messages can be up to ${this.limit} characters`;
    this.input.setAttribute('aria-invalid', String(this.over));
    this.error.hidden = !this.over;
    this.error.textContent = this.over ? overLimitText(len, this.limit) : '';
    if (!this.over) this.error.classList.remove('attention');
    if (this.over && !wasOver) this.announce(this.error.textContent);
    const files = this.files();
    this.sendBtn.disabled = (!hasVisible(this.input.value) && files.count === 0) || this.over || files.busy || files.failed;
    this.sendBtn.title = files.busy ? 'Waiting for the uploads' : (files.failed ? 'Remove the files that could not be uploaded' : '');
    // Grow with the content, up to a limit.
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight, MAX_HEIGHT_PX)}px`;
  }
}
