// The unread and mention badges of a room or conversation in the sidebar.

import { h } from './dom.js';

const shown = (n) => (n > 99 ? '99+' : String(n));

/** The badges of a room's state ({unread, mentions}): none, the unread count, and "@n" for mentions. */
export function badges(state) {
  const unread = state?.unread ?? 0;
  const mentions = state?.mentions ?? 0;
  return [
    mentions ? h('span', { class: 'badge mention-badge' },
      h('span', { 'aria-hidden': 'true' }, `@${shown(mentions)}`),
      h('span', { class: 'sr-only' }, `, ${mentions} ${mentions === 1 ? 'mention' : 'mentions'}`)) : null,
    unread ? h('span', { class: 'badge' },
      h('span', { 'aria-hidden': 'true' }, shown(unread)),
      h('span', { class: 'sr-only' }, `, ${unread} unread`)) : null,
  ];
}
