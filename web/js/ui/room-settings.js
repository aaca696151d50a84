// The current room's settings, in a modal dialog opened from the room header: the user's role;
// for a private room's members, invite by name; for the owner and moderators, remove or ban a
// member (each confirmed in place) and lift a ban by name; for the owner, make a member a
// moderator or a member again. What the page shows is a guess from the role `joined` gave: the
// server decides every request, and a refusal is shown in the dialog in a sentence.

import { h } from './dom.js';
import {
  canModerate, canInvite, canSetRoles, roleSentence, doneText, actionErrorText,
} from '../moderation.js';

export class RoomSettings {
  /**
   * act(kind, user, options) performs a request — kind: invite, remove (options.ban), unban,
   * set_role (options.role) — and resolves with the server's answer or rejects with its error.
   */
  constructor({ dialog, title, role, status, error, close, inviteForm, inviteInput, unbanForm, unbanInput, membersSection, members, act }) {
    Object.assign(this, { dialog, title, role, status, error, close, inviteForm, inviteInput, unbanForm, unbanInput, membersSection, members, act });
    this.room = null;
    this.info = null;
    this.me = null;
    this.names = [];
    this.roles = new Map(); // roles this page gave (the server tells the one who sets a role only)
    this.confirming = null; // { user, ban }
    this.returnFocus = null;
    close.addEventListener('click', () => this.hide());
    dialog.addEventListener('close', () => {
      this.confirming = null;
      this.returnFocus?.focus();
      this.returnFocus = null;
    });
    inviteForm.addEventListener('submit', (e) => {
      e.preventDefault();
      this._byName(inviteInput, 'invite');
    });
    unbanForm.addEventListener('submit', (e) => {
      e.preventDefault();
      this._byName(unbanInput, 'unban');
    });
    members.addEventListener('click', (e) => {
      const btn = e.target.closest('button[data-action]');
      if (btn) this._onMemberAction(btn.dataset.action, btn.dataset.user);
    });
  }

  get isOpen() { return this.dialog.open; }

  /** Open for a room: info = client.roomInfo(room) ({private, role}), names = its members. */
  show(room, info, names, me) {
    this.returnFocus = document.activeElement;
    if (this.room !== room) this.roles.clear();
    this.room = room;
    this.say('', '');
    this.inviteInput.value = '';
    this.unbanInput.value = '';
    this.update(info, names, me);
    if (!this.dialog.open) this.dialog.showModal();
    const first = [...this.dialog.querySelectorAll('input, button[data-action]')].find((el) => !el.closest('[hidden]'));
    (first ?? this.close).focus();
  }

  hide() {
    if (this.dialog.open) this.dialog.close();
  }

  /** Re-render with the room's current role and members (while open). */
  update(info, names, me) {
    this.info = info ?? { private: false, role: null };
    this.names = names;
    this.me = me;
    const { role } = this.info;
    this.title.textContent = `Settings of #${this.room}`;
    this.role.textContent = `${roleSentence(this.room, role)}${this.info.private ? ' The room is private.' : ''}`;
    this.inviteForm.hidden = !canInvite(this.info);
    this.unbanForm.hidden = !canModerate(role);
    this.membersSection.hidden = !canModerate(role);
    this._renderMembers();
  }

  /** Status (a polite status line) and error (an alert) lines. */
  say(status, error) {
    this.status.textContent = status;
    this.error.textContent = error;
    this.error.hidden = !error;
  }

  _renderMembers() {
    const { role } = this.info;
    const others = this.names.filter((n) => n !== this.me);
    if (others.length === 0) {
      this.members.replaceChildren(h('li', { class: 'settings-empty' }, 'No one else is here.'));
      return;
    }
    this.members.replaceChildren(...others.map((user) => {
      const theirs = this.roles.get(user);
      const row = h('li', { class: 'settings-member', dataset: { user } },
        h('span', { class: 'member-name' }, user),
        theirs === 'moderator' ? h('span', { class: 'role-tag' }, 'moderator') : null);
      const c = this.confirming;
      if (c && c.user === user) {
        const verb = c.ban ? 'Ban' : 'Remove';
        row.append(h('span', { class: 'settings-confirm', role: 'group', 'aria-label': `Confirm: ${verb.toLowerCase()} ${user}` },
          h('span', { class: 'confirm-text' }, c.ban ? `Ban ${user}? They cannot come back until unbanned.` : `Remove ${user}?`),
          h('button', { type: 'button', class: 'btn small btn-danger', dataset: { action: c.ban ? 'confirm-ban' : 'confirm-remove', user } }, `Yes, ${verb.toLowerCase()}`),
          h('button', { type: 'button', class: 'btn small btn-ghost', dataset: { action: 'cancel', user } }, 'Cancel')));
        return row;
      }
      const actions = h('span', { class: 'settings-actions' });
      if (canSetRoles(role)) {
        actions.append(theirs === 'moderator'
          ? h('button', { type: 'button', class: 'link-btn', dataset: { action: 'make-member', user }, 'aria-label': `Make ${user} a member` }, 'Make member')
          : h('button', { type: 'button', class: 'link-btn', dataset: { action: 'make-moderator', user }, 'aria-label': `Make ${user} a moderator` }, 'Make moderator'));
      }
      actions.append(
        h('button', { type: 'button', class: 'link-btn', dataset: { action: 'remove', user }, 'aria-label': `Remove ${user}` }, 'Remove'),
        h('button', { type: 'button', class: 'link-btn danger', dataset: { action: 'ban', user }, 'aria-label': `Ban ${user}` }, 'Ban'));
      row.append(actions);
      return row;
    }));
  }

  _focusAction(user, action) {
    const btn = [...this.members.querySelectorAll('button[data-action]')]
      .find((b) => b.dataset.user === user && b.dataset.action === action);
    btn?.focus();
  }

  async _onMemberAction(action, user) {
    if (action === 'remove' || action === 'ban') {
      this.confirming = { user, ban: action === 'ban' };
      this._renderMembers();
      this._focusAction(user, action === 'ban' ? 'confirm-ban' : 'confirm-remove');
      return;
    }
    if (action === 'cancel') {
      const was = this.confirming;
      this.confirming = null;
      this._renderMembers();
      this._focusAction(user, was?.ban ? 'ban' : 'remove');
      return;
    }
    this.confirming = null;
    if (action === 'confirm-remove' || action === 'confirm-ban') {
      const ok = await this._run('remove', user, { ban: action === 'confirm-ban' });
      if (ok) this.names = this.names.filter((n) => n !== user);
      this._renderMembers();
      (this.members.querySelector('button[data-action]') ?? this.close).focus();
      return;
    }
    const role = action === 'make-moderator' ? 'moderator' : 'member';
    const ok = await this._run('set_role', user, { role });
    if (ok) this.roles.set(user, role);
    this._renderMembers();
    this._focusAction(user, role === 'moderator' ? 'make-member' : 'make-moderator');
  }

  async _byName(input, kind) {
    const user = input.value.trim();
    if (!user) { this.say('', 'Enter a name.'); input.focus(); return; }
    const button = input.form.querySelector('button[type="submit"]');
    button.disabled = true;
    const ok = await this._run(kind, user);
    button.disabled = false;
    if (ok) input.value = '';
    input.focus();
  }

  // One request; its outcome in the status or error line. Resolves with whether it was done.
  async _run(kind, user, options = {}) {
    this.say('', '');
    try {
      const evt = await this.act(kind, user, options);
      this.say(doneText(evt), '');
      return true;
    } catch (err) {
      this.say('', actionErrorText(err));
      return false;
    }
  }
}
