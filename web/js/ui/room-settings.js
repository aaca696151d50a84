// The current room's settings, in a modal dialog opened from the room header: the user's role;
// for the owner, the room's title and topic; for a private room's members, invite by name; the
// members (online first, with the roles the page knows); for the owner and moderators, remove or
// ban a member (each confirmed in place) and lift a ban by name; for the owner, make a member a
// moderator or a member again; leave the room (anyone), delete it (the owner, confirmed in place).
// What the page shows is a guess from the role `joined` gave: the server decides every request,
// and a refusal is shown in the dialog in a sentence.

import { h } from './dom.js';
import {
  canModerate, canInvite, canSetRoles, canConfigure, roleSentence, doneText, actionErrorText, ROLE_LABELS,
} from '../moderation.js';

const ROSTER_PAGES = 10;

export class RoomSettings {
  /**
   * act(kind, user, options) performs a request — kind: invite, remove (options.ban), unban,
   * set_role (options.role), update (options.title, options.topic), delete — and resolves with
   * the server's answer or rejects with its error. leave(room) leaves the room.
   */
  constructor({
    dialog, title, role, status, error, close, inviteForm, inviteInput, unbanForm, unbanInput, membersSection, members,
    detailsForm, titleInput, topicInput, leaveButton, deleteButton, endButtons, deleteConfirm, deleteYes, deleteNo, act, leave,
  }) {
    Object.assign(this, {
      dialog, title, role, status, error, close, inviteForm, inviteInput, unbanForm, unbanInput, membersSection, members,
      detailsForm, titleInput, topicInput, leaveButton, deleteButton, endButtons, deleteConfirm, deleteYes, deleteNo, act, leave,
    });
    this.people = []; // [{name, online}]
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
    detailsForm.addEventListener('submit', (e) => {
      e.preventDefault();
      this._saveDetails();
    });
    leaveButton.addEventListener('click', () => {
      const room = this.room;
      this.hide();
      this.leave(room);
    });
    deleteButton.addEventListener('click', () => this._confirmDelete(true));
    deleteNo.addEventListener('click', () => { this._confirmDelete(false); deleteButton.focus(); });
    deleteYes.addEventListener('click', async () => {
      deleteYes.disabled = true;
      try {
        await this.act('delete');
        this.hide(); // the room_deleted event moves the page on
      } catch (err) {
        this._confirmDelete(false);
        this.say('', actionErrorText(err));
      } finally {
        deleteYes.disabled = false;
      }
    });
  }

  get isOpen() { return this.dialog.open; }

  /**
   * The member list from the server's roster (offline members and roles included), a few pages at
   * most; until it answers, the members the page knows stay. Nothing if the dialog has moved on.
   */
  async loadRoster(client, room) {
    const all = [];
    let after;
    try {
      for (let i = 0; i < ROSTER_PAGES; i++) {
        const page = await client.roster(room, { after });
        all.push(...page.members);
        if (!page.next) break;
        after = page.next;
      }
    } catch { return; /* not joined yet, or not connected: the page's own list stays */ }
    if (this.isOpen && this.room === room) this.setRoster(all);
  }

  /** Open for a room: info = client.roomInfo(room) ({private, role, title, topic}), names = its members. */
  show(room, info, names, me) {
    this.returnFocus = document.activeElement;
    if (this.room !== room) this.roles.clear();
    this.room = room;
    this.say('', '');
    this.inviteInput.value = '';
    this.unbanInput.value = '';
    this.titleInput.value = info?.title ?? '';
    this.topicInput.value = info?.topic ?? '';
    this._confirmDelete(false);
    this.update(info, names, me);
    if (!this.dialog.open) this.dialog.showModal();
    const first = [...this.dialog.querySelectorAll('input, button[data-action]')].find((el) => !el.closest('[hidden]'));
    (first ?? this.close).focus();
  }

  hide() {
    if (this.dialog.open) this.dialog.close();
  }

  /**
   * Re-render with the room's current role and members (while open). names: [{name, online}]
   * (or bare names: online), as the page knows them.
   */
  update(info, names, me) {
    this.info = info ?? { private: false, role: null };
    this.people = names.map((n) => (typeof n === 'string' ? { name: n, online: true } : n));
    this.names = this.people.map((p) => p.name);
    this.me = me;
    const { role } = this.info;
    this._renderTitle();
    this.role.textContent = `${roleSentence(this.room, role)}${this.info.private ? ' The room is private.' : ''}`;
    this.detailsForm.hidden = !canConfigure(role);
    this.inviteForm.hidden = !canInvite(this.info);
    this.unbanForm.hidden = !canModerate(role);
    this.membersSection.hidden = false;
    this.deleteButton.hidden = !canConfigure(role);
    this.leaveButton.hidden = this.room === 'general'; // every session is in it
    this._renderMembers();
  }

  /**
   * The server's roster ([{user, role, online}], those in the room first): who is listed, with
   * the roles the server says (the roles this page gave stay until then).
   */
  setRoster(entries) {
    this.people = entries.map((m) => ({ name: m.user, online: Boolean(m.online) }));
    this.names = this.people.map((p) => p.name);
    for (const m of entries) if (m.role) this.roles.set(m.user, m.role);
    this._renderMembers();
  }

  _renderTitle() {
    const t = this.info?.title;
    this.title.textContent = t ? `Settings of ${t} (#${this.room})` : `Settings of #${this.room}`;
  }

  // Delete's confirmation, in place of the buttons (or back).
  _confirmDelete(asking) {
    this.deleteConfirm.hidden = !asking;
    this.endButtons.hidden = asking;
    if (asking) this.deleteNo.focus();
  }

  async _saveDetails() {
    const button = this.detailsForm.querySelector('button[type="submit"]');
    button.disabled = true;
    this.say('', '');
    try {
      const evt = await this.act('update', null, { title: this.titleInput.value.trim(), topic: this.topicInput.value.trim() });
      this.info = { ...this.info, title: evt.title, topic: evt.topic };
      this._renderTitle();
      this.say(doneText(evt), '');
    } catch (err) {
      this.say('', actionErrorText(err));
    } finally {
      button.disabled = false;
    }
  }

  /** Status (a polite status line) and error (an alert) lines. */
  say(status, error) {
    this.status.textContent = status;
    this.error.textContent = error;
    this.error.hidden = !error;
  }

  _renderMembers() {
    const { role } = this.info;
    // Online first, then offline, each by name.
    const others = this.people.filter((p) => p.name !== this.me)
      .sort((a, b) => (Number(b.online) - Number(a.online)) || a.name.localeCompare(b.name));
    if (others.length === 0) {
      this.members.replaceChildren(h('li', { class: 'settings-empty' }, 'No one else is here.'));
      return;
    }
    this.members.replaceChildren(...others.map(({ name: user, online }) => {
      const theirs = this.roles.get(user);
      const row = h('li', { class: `settings-member ${online ? 'online' : 'offline'}`, dataset: { user } },
        h('span', { class: 'member-name' }, user),
        theirs && theirs !== 'member' ? h('span', { class: 'role-tag' }, ROLE_LABELS[theirs].toLowerCase()) : null,
        h('span', { class: 'presence-tag' }, online ? 'online' : 'offline'));
      // Nothing to offer on a role as high as one's own (the server would refuse it).
      const rank = { owner: 3, moderator: 2 };
      if (!canModerate(role) || (rank[theirs] ?? 1) >= rank[role]) return row;
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
      if (ok) {
        this.people = this.people.filter((p) => p.name !== user);
        this.names = this.names.filter((n) => n !== user);
      }
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
