// "ada is typing…" line above the composer.

import { listNames } from './format.js';

export class TypingIndicator {
  constructor(el) {
    this.el = el;
    this.timer = null;
  }

  /** room: RoomState or null. Re-renders itself when entries expire. */
  render(room) {
    clearTimeout(this.timer);
    const users = room ? room.typingUsers() : [];
    let text = '';
    if (users.length === 1) text = `${users[0]} is typing…`;
    else if (users.length > 1 && users.length <= 3) text = `${listNames(users)} are typing…`;
    else if (users.length > 3) text = 'Several people are typing…';
    this.el.textContent = text;
    this.el.classList.toggle('active', users.length > 0);
    if (users.length) {
      const next = Math.min(...users.map((u) => room.typing.get(u))) - Date.now();
      this.timer = setTimeout(() => this.render(room), Math.max(100, next + 20));
    }
  }
}
