// Connection banner: hidden while connected; says "Reconnecting…" with a
// countdown and a retry button, or "Offline", and "Connected" briefly after
// the connection comes back. The stable text is a live region; the ticking
// countdown is not, so screen readers are not flooded.

import { plural } from './format.js';

/**
 * The user's own status under their name, by the client's state. Anything but connected is
 * "Offline" to the user: the page cannot send or hear anything until the connection is back.
 */
export function statusText(state) {
  return {
    connected: 'Online', connecting: 'Connecting…', reconnecting: 'Offline · reconnecting…', offline: 'Offline', closed: 'Offline',
  }[state] ?? '';
}

export class ConnectionBanner {
  constructor({ el, text, countdown, retry, onRetry }) {
    Object.assign(this, { el, text, countdown, retry });
    this.state = 'connecting';
    this.pending = 0;
    this.nextRetryAt = 0;
    this.tick = null;
    this.hideTimer = null;
    retry.addEventListener('click', () => onRetry());
  }

  set(state, { nextRetryAt = 0, reconnected = false } = {}) {
    const was = this.state;
    this.state = state;
    this.nextRetryAt = nextRetryAt;
    clearTimeout(this.hideTimer);
    this.el.dataset.state = state;
    if (state === 'connected') {
      const flash = reconnected || (was !== 'connected' && was !== 'connecting');
      this.el.hidden = !flash;
      if (flash) this.hideTimer = setTimeout(() => { this.el.hidden = true; }, 2500);
    } else {
      this.el.hidden = false;
    }
    this.render();
  }

  setPending(n) {
    if (n === this.pending) return;
    this.pending = n;
    this.render();
  }

  render() {
    clearTimeout(this.tick);
    const waiting = this.pending ? ` ${plural(this.pending, 'message', 'messages')} will be sent when the connection is back.` : '';
    const texts = {
      connecting: 'Connecting…',
      connected: 'Connected.',
      reconnecting: `Connection lost. Reconnecting…${waiting}`,
      offline: `You're offline.${waiting}`,
      closed: 'Disconnected.',
    };
    const text = texts[this.state] ?? '';
    if (this.text.textContent !== text) this.text.textContent = text;
    const retrying = this.state === 'reconnecting' || this.state === 'offline';
    const secs = Math.ceil((this.nextRetryAt - Date.now()) / 1000);
    this.countdown.textContent = retrying && this.nextRetryAt && secs > 0 ? `Retrying in ${secs} s` : (retrying ? 'Retrying…' : '');
    this.retry.hidden = !retrying;
    if (retrying && secs > 0) this.tick = setTimeout(() => this.render(), 1000);
  }
}
