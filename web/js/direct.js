// Direct conversations in people's words (protocol.md "Direct conversations"): which conversation
// is which (a dm-… id is never shown: the other's name is), to whom the members list offers
// "Message", and what to say about a refused dm. Pure: no DOM, no client.

import { isDirectRoom } from './parley-client.js';
import { sentence } from './account.js';

export { isDirectRoom };

/** A guest's id (welcome's or a message's uid): `g_` and hex digits. Guests hold no conversation. */
export function isGuestUid(uid) {
  return typeof uid === 'string' && uid.startsWith('g_');
}

function sameName(a, b) {
  return typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase();
}

/**
 * Whether the members list offers "Message" for a name: the user is signed in (guests cannot
 * hold a conversation), the name is not the user's own, nor one a message showed to be a
 * guest's (uid), and the room shown is not a conversation already. The server still decides:
 * a guest who has not spoken yet is refused with no_such_user.
 */
export function canMessage({ name, me, signedIn, uid, inDirect = false }) {
  return Boolean(signedIn) && !inDirect && typeof name === 'string' && name !== '' &&
    !sameName(name, me) && !isGuestUid(uid);
}

/** What a conversation is called: the other's name (or, until it is known, a placeholder). */
export function conversationTitle(withName) {
  return withName || 'Direct message';
}

/** The explanation a guest sees instead of the conversations. */
export const GUEST_REASON = 'Sign in to send direct messages: guests cannot hold a conversation.';

function waitText(err) {
  const ms = err?.retryAfterMs ?? err?.event?.retry_after_ms;
  return typeof ms === 'number' ? ` Try again in ${Math.max(1, Math.ceil(ms / 1000))} s.` : ' Try again later.';
}

/** A refused dm (the "New message" form's, or a member's "Message") as a sentence. */
export function dmErrorText(err) {
  switch (err?.code) {
    case 'no_such_user': return 'There is no account of that name.';
    case 'forbidden': return GUEST_REASON;
    case 'bad_request': return 'That is you: choose someone else.';
    case 'bad_name': return `That is not a name: ${sentence(err.message || 'not allowed').replace(/^./, (c) => c.toLowerCase())}`;
    case 'rate_limited': return `Too many new conversations.${waitText(err)}`;
    case 'disconnected': case 'closed': case 'timeout': return 'Not connected. Try again in a moment.';
    default: return sentence(err?.message || err?.code || 'Could not start the conversation.');
  }
}
