// Private rooms and moderation in people's words: who may do what (as far as the page can tell;
// the server decides every request, protocol.md "Private rooms and moderation"), and what to say
// about the server's answers. Pure: no DOM, no client.

import { sentence } from './account.js';

export const ROLE_LABELS = Object.freeze({ owner: 'Owner', moderator: 'Moderator', member: 'Member' });

/** The owner and moderators remove, ban and unban. */
export function canModerate(role) {
  return role === 'owner' || role === 'moderator';
}

/** A member of a private room (any role) invites. */
export function canInvite(info) {
  return Boolean(info?.private) && Boolean(ROLE_LABELS[info.role]);
}

/** The owner makes moderators (and members of them again). */
export function canSetRoles(role) {
  return role === 'owner';
}

/** The owner alone renames the room, sets its topic and deletes it. */
export function canConfigure(role) {
  return role === 'owner';
}

/** "You are the owner of #club." — or what a visitor of a public room is. */
export function roleSentence(room, role) {
  if (role === 'owner') return `You are the owner of #${room}.`;
  if (role === 'moderator') return `You are a moderator of #${room}.`;
  if (role === 'member') return `You are a member of #${room}.`;
  return `You are in #${room} as a visitor: only its owner and moderators manage it.`;
}

/** The notice for this user's own removal (the `removed` event, self). */
export function removalNotice(evt) {
  if (evt.by && evt.by.toLowerCase() === evt.user?.toLowerCase()) return `You left #${evt.room}.`;
  const how = evt.banned ? 'banned from' : 'removed from';
  return `You were ${how} #${evt.room}${evt.by ? ` by ${evt.by}` : ''}.`;
}

/** What was done, said after a moderation request succeeds. */
export function doneText(evt) {
  switch (evt.type) {
    case 'invited': return `${evt.user} is invited to #${evt.room}.`;
    case 'removed': return `${evt.user} was ${evt.banned ? 'banned from' : 'removed from'} #${evt.room}.`;
    case 'unbanned': return `${evt.user} may come back to #${evt.room}.`;
    case 'role': return `${evt.user} is now ${evt.role === 'moderator' ? 'a moderator' : 'a member'} of #${evt.room}.`;
    case 'room_updated': return 'Saved.';
    default: return 'Done.';
  }
}

function waitText(err) {
  const ms = err?.retryAfterMs ?? err?.event?.retry_after_ms;
  return typeof ms === 'number' ? ` Try again in ${Math.max(1, Math.ceil(ms / 1000))} s.` : ' Try again later.';
}

/** A refused moderation request (invite, remove, unban, set_role, update_room, delete_room) as a sentence. */
export function actionErrorText(err) {
  switch (err?.code) {
    case 'bad_request': return sentence(err.message || 'That is not allowed.');
    case 'unavailable': return sentence(err.message || 'Not possible now. Try again later.');
    case 'forbidden': return `You are not allowed to do that here: ${lower(sentence(err.message || 'not allowed in this room'))}`;
    case 'no_such_user': return 'There is no account of that name.';
    case 'rate_limited': return `Too many requests.${waitText(err)}`;
    case 'disconnected': case 'closed': case 'timeout': return 'Not connected. Try again in a moment.';
    default: return sentence(err?.message || err?.code || 'Something went wrong.');
  }
}

function lower(text) {
  return text ? text[0].toLowerCase() + text.slice(1) : text;
}

/** A join refused with forbidden that a password would open ("join with its password"). */
export function needsPassword(err) {
  return err?.code === 'forbidden' && /password/i.test(err.message ?? '') && !/banned/i.test(err.message ?? '');
}

/** A refused join (the password prompt's, or a room opened by name) as a sentence. */
export function joinErrorText(err, room) {
  switch (err?.code) {
    case 'bad_password': return 'Wrong password.';
    case 'rate_limited': return `Too many attempts.${waitText(err)}`;
    case 'no_such_room': return `There is no room #${room}.`;
    case 'forbidden':
      if (/banned/i.test(err.message ?? '')) return `You are banned from #${room}.`;
      if (/sign in/i.test(err.message ?? '')) return `#${room} is private: sign in to join it.`;
      if (needsPassword(err)) return `#${room} is private: join with its password, or ask a member to invite you.`;
      return `#${room} is private: ask a member to invite you.`;
    case 'disconnected': case 'closed': case 'timeout': return 'Not connected. Try again in a moment.';
    default: return sentence(err?.message || err?.code || 'Could not join.');
  }
}
