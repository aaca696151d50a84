// Members of the active room, with online/offline presence.

import { h } from './dom.js';
import { avatar } from './messages.js';

export class MemberList {
  constructor({ list, count, heading }) {
    Object.assign(this, { list, count, heading });
  }

  render(room, me) {
    const members = room ? room.memberList() : [];
    const online = members.filter((m) => m.online).length;
    this.heading.textContent = room ? `Members of #${room.name}` : 'Members';
    this.count.textContent = `${online} online`;
    this.list.replaceChildren(...members.map((m) => h('li', {
      class: `member${m.online ? ' online' : ''}`,
      dataset: { user: m.name },
    },
    h('span', { class: 'avatar-wrap' }, avatar(m.name, 'small'), h('span', { class: 'presence-dot', 'aria-hidden': 'true' })),
    h('span', { class: 'member-name' }, m.name),
    m.name === me ? h('span', { class: 'you-tag' }, 'you') : null,
    h('span', { class: 'sr-only' }, m.online ? ', online' : ', offline'))));
  }
}
