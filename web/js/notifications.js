// Browser notifications (the Notification API) for a mention of the user or a direct message
// while the tab is hidden. Asked for only from a user gesture (the "Notify me" button), and off
// until the user turns them on there (the preference `notify`: true once turned on; false or unset:
// off, even where the browser allows them already).

import { prefs } from './store.js';

const MAX_BODY = 140;

/** Whether this browser can notify at all. */
export function supported() { return typeof Notification === 'function'; }

/** On: the browser allows it and the user has not turned it off. */
export function enabled() {
  return supported() && Notification.permission === 'granted' && prefs.get('notify', false) === true;
}

/** From a click: ask the browser (once), then turn notifications on or off. Resolves to `enabled()`. */
export async function toggle() {
  if (!supported()) return false;
  if (enabled()) {
    prefs.set('notify', false);
    return false;
  }
  prefs.set('notify', true);
  if (Notification.permission === 'default') {
    try { await Notification.requestPermission(); } catch { /* refused */ }
  }
  return enabled();
}

/** A notification for message `m` in `room` (a RoomState), if enabled; a click opens the tab. */
export function notify(m, room) {
  if (!enabled()) return null;
  const text = m.text.length > MAX_BODY ? `${m.text.slice(0, MAX_BODY - 1)}…` : m.text;
  try {
    const n = new Notification(room.direct ? m.from : `${m.from} in ${room.label}`, { body: text, tag: `parley-${m.room}` });
    n.onclick = () => { window.focus(); n.close(); };
    return n;
  } catch {
    return null; // a browser that allows the API only in a service worker
  }
}
