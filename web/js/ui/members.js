// Members of the active room, with online/offline presence, and "Message" beside the names the
// user may start a direct conversation with (canMessage decides which: app.js). While the page is
// not connected and joined, nobody's presence is known: the others are shown as unknown (a hollow
// dot, "presence unknown"), not as they were, until the room's join re-syncs them.

import { h } from './dom.js';
import { avatar } from './messages.js';

export class MemberList {
  /** onMessage(name): the user chose "Message" beside a member's name. */
  constructor({ list, count, heading, onMessage }) {
    Object.assign(this, { list, count, heading, onMessage });
    list.addEventListener('click', (e) => {
      const btn = e.target.closest('button[data-dm]');
      if (btn) this.onMessage?.(btn.dataset.dm);
    });
  }

  /** canMessage(name): whether to offer "Message" for that member; known: presence is current. */
  render(room, me, { canMessage = () => false, known = true } = {}) {
    const members = room ? room.memberList() : [];
    const online = members.filter((m) => m.online).length;
    this.heading.textContent = !room ? 'Members' : room.direct ? 'In this conversation' : `Members of ${room.label}`;
    this.count.textContent = known ? `${online} online` : 'presence unknown';
    const state = (m) => (m.name === me || known ? (m.online ? 'online' : 'offline') : 'unknown');
    this.list.replaceChildren(...members.map((m) => h('li', {
      class: `member ${state(m)}`,
      dataset: { user: m.name, presence: state(m) },
    },
    h('span', { class: 'avatar-wrap' }, avatar(m.name, 'small'), h('span', { class: 'presence-dot', 'aria-hidden': 'true' })),
    h('span', { class: 'member-name' }, m.name),
    m.name === me ? h('span', { class: 'you-tag' }, 'you') : null,
    h('span', { class: 'sr-only' }, state(m) === 'unknown' ? ', presence unknown' : `, ${state(m)}`),
    canMessage(m.name)
      ? h('button', { type: 'button', class: 'link-btn member-dm', dataset: { dm: m.name }, 'aria-label': `Message ${m.name}` }, 'Message')
      : null)));
  }
}
