// parley-client.js — a dependency-free client for the Parley protocol v1.
//
// Works in browsers and in Node (pass a WebSocket constructor in the options
// when there is no global one). See docs/client.md for the full API.

export const PROTOCOL = 'parley.v1';

/** Connection states reported by the "state" event. */
export const State = Object.freeze({
  IDLE: 'idle',                 // created, connect() not called yet
  CONNECTING: 'connecting',     // first connection attempt
  CONNECTED: 'connected',       // welcome received, rooms (re)joined
  RECONNECTING: 'reconnecting', // lost the connection, retrying with backoff
  OFFLINE: 'offline',           // several attempts failed (or the network is down); still retrying
  CLOSED: 'closed',             // close() was called or the server refused us for good
});

const DEFAULTS = {
  protocol: PROTOCOL,
  backoff: { initialMs: 500, maxMs: 10000, factor: 2, jitter: 0.5 },
  connectTimeoutMs: 10000,
  requestTimeoutMs: 15000,
  ackTimeoutMs: 15000,
  pingIntervalMs: 25000,
  pongTimeoutMs: 10000,
  typingIntervalMs: 2000,
  offlineAfterAttempts: 3,
  maxSendAttempts: 8,
  maxInFlight: 8,
  random: Math.random,
};

// Close codes that mean "our fault": reconnect, but never in a fast loop.
const CLIENT_BUG_CODES = new Set([1002, 1003, 1007, 1009]);
// Send errors that will never succeed when retried. Everything else
// (rate_limited, overloaded, store_failed, unavailable, not_joined, ...) is
// retried with the same cid.
const PERMANENT_SEND_ERRORS = new Set([
  'text_too_long', 'empty_text', 'bad_request', 'bad_room', 'bad_cid', 'no_such_room', 'bad_json',
  'frame_too_large', 'unknown_type', 'internal', 'no_such_message', 'deleted', 'cid_conflict',
  'no_such_file',
]);
// Errors to a hello that mean "stop trying": the same hello would get the same answer.
// unauthorized: no session (or it has ended), or a guest where the server has none;
// name_taken: a guest's name belongs to an account (or looks like one).
const FATAL_HELLO_ERRORS = new Set(['bad_name', 'bad_request', 'unauthorized', 'name_taken']);
// Join errors after which the room is forgotten (not re-joined on every reconnect).
const FORGET_ON_JOIN = new Set(['no_such_room', 'bad_room', 'confusable_name', 'forbidden', 'bad_password']);

/**
 * Is this room id a direct conversation's? Ids starting `dm-` are theirs only (protocol.md
 * "Direct conversations": `create` refuses them), so an app can tell one from its id alone.
 */
export function isDirectRoom(room) {
  return typeof room === 'string' && room.startsWith('dm-');
}

// Names as the server compares them for one user (case folds; look-alikes are the server's).
function sameName(a, b) {
  return typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase();
}

/**
 * Split one text frame into events: the server may batch several JSON
 * objects in one frame, one per line. Blank lines are ignored; a line that
 * is not JSON is reported through onBadLine and skipped.
 */
export function parseFrame(data, onBadLine) {
  const events = [];
  for (const line of String(data).split('\n')) {
    if (line.trim() === '') continue;
    try {
      const evt = JSON.parse(line);
      if (evt && typeof evt === 'object') events.push(evt);
      else onBadLine?.(line);
    } catch {
      onBadLine?.(line);
    }
  }
  return events;
}

/** Backoff delay for a 0-based attempt number: exponential, capped, with jitter. */
export function backoffDelay(attempt, { initialMs, maxMs, factor, jitter }, random = Math.random) {
  const base = Math.min(maxMs, initialMs * factor ** Math.min(attempt, 30));
  return Math.round(base * (1 - jitter * random()));
}

function randomTag() {
  const bytes = new Uint8Array(6);
  if (globalThis.crypto?.getRandomValues) globalThis.crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** An error from the server (or a local one shaped the same way). */
export class ParleyError extends Error {
  constructor(evt) {
    super(evt.message || evt.code || 'error');
    this.name = 'ParleyError';
    this.code = evt.code;
    this.event = evt;
    // The server's request id of this error (protocol.md, Errors): its log line has the same.
    if (typeof evt.rid === 'string') this.rid = evt.rid;
    if (evt.retry_after_ms !== undefined) this.retryAfterMs = evt.retry_after_ms;
  }
}

export class ParleyClient {
  /**
   * @param {object} options
   * @param {string} options.url        ws:// or wss:// URL of /ws
   * @param {string} [options.name]     a guest's display name for hello; without it the hello
   *                                    carries no name and the server uses the session cookie
   *                                    of the WebSocket upgrade (a signed-in browser)
   * @param {string|Function} [options.token] who the user is, instead of a name: a session token
   *                                    (api.md) or a JWT the site's backend signed; or a function
   *                                    returning one (or a Promise of one), asked on every hello
   *                                    so that each reconnect gets a fresh short-lived JWT
   * @param {Function} [options.WebSocket] WebSocket constructor (default: globalThis.WebSocket)
   */
  constructor(options = {}) {
    if (!options.url) throw new TypeError('ParleyClient: options.url is required');
    this.options = { ...DEFAULTS, ...options, backoff: { ...DEFAULTS.backoff, ...options.backoff } };
    this.WebSocket = options.WebSocket ?? globalThis.WebSocket;
    if (typeof this.WebSocket !== 'function') {
      throw new TypeError('ParleyClient: no WebSocket constructor (pass options.WebSocket)');
    }
    this.url = options.url;
    this.name = options.name;
    this.token = options.token;

    this.state = State.IDLE;
    this.user = null;
    this.uid = null; // welcome's uid: an account's stable id, or a guest's for this connection
    this.session = null;
    this.limits = null;
    this.serverTimeOffset = 0;
    this.stats = { frames: 0, events: 0, duplicates: 0, connects: 0 };

    this._listeners = new Map();
    this._ws = null;
    this._attempt = 0;        // consecutive failed attempts
    this._slowNext = false;   // next delay uses the maximum (client-bug close codes)
    this._timers = { reconnect: null, connect: null, ping: null, pong: null, flush: null };
    this._nextRetryAt = 0;
    this._ref = 0;
    this._requests = new Map(); // ref -> { resolve, reject, timer, type }
    this._rooms = new Map();    // room -> { lastSeq: number|null, live: boolean, joining: boolean }
    this._queue = [];           // pending sends, in the order they were made
    this._cidTag = randomTag();
    this._cidCounter = 0;
    this._lastTyping = new Map();
    this._welcomeWaiters = [];
    // The browser's network events. Offline: an open (or opening) socket cannot be trusted — the
    // browser may keep it "open" until a heartbeat fails, half a minute later — so it is dropped
    // now and the state says offline at once. Online: reconnect now, or, if the socket survived,
    // check it with a ping at once.
    this._onOnline = () => {
      if (this.state === State.OFFLINE || this.state === State.RECONNECTING) this.reconnectNow();
      else if (this.state === State.CONNECTED) this._startHeartbeat(0);
    };
    this._onOffline = () => {
      if (this._ws) this._dropSocket(this._ws, { code: 4002, reason: 'network offline' });
      if (this.state === State.RECONNECTING) this._setState(State.OFFLINE);
    };
  }

  // ---------------------------------------------------------------- events

  /** Subscribe to an event; returns a function that unsubscribes. */
  on(type, fn) {
    if (!this._listeners.has(type)) this._listeners.set(type, new Set());
    this._listeners.get(type).add(fn);
    return () => this.off(type, fn);
  }

  off(type, fn) {
    this._listeners.get(type)?.delete(fn);
  }

  /** Resolve with the next event of this type that matches the predicate. */
  once(type, predicate = () => true) {
    return new Promise((resolve) => {
      const off = this.on(type, (evt) => {
        if (predicate(evt)) { off(); resolve(evt); }
      });
    });
  }

  _emit(type, evt) {
    for (const fn of [...(this._listeners.get(type) ?? [])]) {
      try { fn(evt); } catch (err) { console.error(`parley-client: "${type}" listener failed`, err); }
    }
  }

  // ------------------------------------------------------------ connection

  /** Connect (or reconnect). Resolves with the welcome event. */
  connect() {
    if (this.state === State.CONNECTED) return Promise.resolve(this._welcome);
    const p = new Promise((resolve, reject) => this._welcomeWaiters.push({ resolve, reject }));
    if (this.state === State.IDLE || this.state === State.CLOSED) {
      this._attempt = 0;
      globalThis.addEventListener?.('online', this._onOnline);
      globalThis.addEventListener?.('offline', this._onOffline);
      this._open(State.CONNECTING);
    }
    return p;
  }

  /** Close for good: no reconnect, pending requests rejected, queue kept. */
  close() {
    globalThis.removeEventListener?.('online', this._onOnline);
    globalThis.removeEventListener?.('offline', this._onOffline);
    this._clearTimers();
    const ws = this._ws;
    this._detach();
    if (ws) try { ws.close(1000, 'bye'); } catch { /* already closing */ }
    this._connectionLost(new ParleyError({ code: 'closed', message: 'client closed' }));
    this._setState(State.CLOSED);
    this._rejectWelcomeWaiters(new ParleyError({ code: 'closed', message: 'client closed' }));
  }

  /** Skip the backoff wait and try to connect right away. */
  reconnectNow() {
    if (this.state === State.CONNECTED || this.state === State.CLOSED || this.state === State.IDLE) return;
    if (this._ws) return; // an attempt is already under way
    clearTimeout(this._timers.reconnect);
    this._open(this.state);
  }

  get connected() { return this.state === State.CONNECTED; }
  /** ms timestamp of the next automatic attempt while reconnecting, else 0. */
  get nextRetryAt() { return this._nextRetryAt; }
  /** Number of consecutive failed attempts. */
  get attempt() { return this._attempt; }

  _setState(state, extra = {}) {
    const previous = this.state;
    if (previous === state && !extra.force) return;
    this.state = state;
    this._emit('state', { state, previous, attempt: this._attempt, nextRetryAt: this._nextRetryAt, ...extra });
  }

  _open(state) {
    this._nextRetryAt = 0;
    this._setState(state, { force: true });
    let ws;
    try {
      ws = new this.WebSocket(this.url, this.options.protocol);
    } catch (err) {
      this._scheduleReconnect({ code: 0, reason: String(err?.message ?? err) });
      return;
    }
    this._ws = ws;
    this.stats.connects++;
    this._timers.connect = setTimeout(() => {
      // No welcome in time: give up on this socket and retry.
      if (this._ws === ws) this._dropSocket(ws, { code: 4000, reason: 'connect timeout' });
    }, this.options.connectTimeoutMs);

    ws.onopen = () => {
      if (this._ws !== ws) return;
      this._hello();
    };
    ws.onmessage = (msg) => {
      if (this._ws !== ws) return;
      this._onFrame(msg.data);
    };
    ws.onerror = () => { /* a close event follows */ };
    ws.onclose = (ev) => {
      if (this._ws !== ws) return;
      this._detach();
      this._onSocketClosed({ code: ev.code, reason: ev.reason });
    };
  }

  _detach() {
    const ws = this._ws;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
    this._ws = null;
  }

  // Abandon a socket that is stuck (no welcome, no pong).
  _dropSocket(ws, info) {
    this._detach();
    try { ws.close(4000, info.reason); } catch { /* ignore */ }
    this._onSocketClosed(info);
  }

  _hello() {
    const ref = this._nextRef();
    this._track(ref, 'hello').then((welcome) => {
      clearTimeout(this._timers.connect);
      this._welcome = welcome;
      this.user = welcome.user;
      this.uid = welcome.uid ?? null;
      this.session = welcome.session;
      this.limits = welcome.limits ?? null;
      this._bucket = undefined; // the server's send bucket is per connection
      if (typeof welcome.server_time === 'number') this.serverTimeOffset = welcome.server_time - Date.now();
      const reconnected = this._welcomed === true;
      this._welcomed = true;
      this._attempt = 0;
      this._slowNext = false;
      this._setState(State.CONNECTED, { reconnected });
      this._emit('welcome', welcome);
      for (const w of this._welcomeWaiters.splice(0)) w.resolve(welcome);
      this._startHeartbeat();
      this._rejoinAll();
    }, (err) => {
      if (err.code === 'disconnected') return; // the close handler deals with it
      if (FATAL_HELLO_ERRORS.has(err.code)) {
        this._emit('error', err.event);
        this._rejectWelcomeWaiters(err);
        this.close();
      } else if (this._ws) {
        this._dropSocket(this._ws, { code: 4000, reason: `hello failed: ${err.code}` });
      }
    });
    // A token (a session token, or the site's JWT) says who the user is; else a guest says its
    // name; a signed-in browser says nothing and is known by its cookie. A token function is
    // asked on every hello, so that a reconnect carries a fresh short-lived JWT.
    const ws = this._ws;
    const say = (token) => {
      if (this._ws !== ws) return; // the socket went while the token was fetched
      if (token != null && token !== '') this._write({ type: 'hello', token: String(token), ref });
      else this._write(this.name == null ? { type: 'hello', ref } : { type: 'hello', name: this.name, ref });
    };
    const failed = (err) => {
      if (this._ws === ws) this._dropSocket(ws, { code: 4000, reason: `token: ${err?.message ?? err}` });
    };
    if (typeof this.token !== 'function') return say(this.token);
    let got;
    try {
      got = this.token();
    } catch (err) {
      return failed(err);
    }
    Promise.resolve(got).then(say, failed);
  }

  _rejectWelcomeWaiters(err) {
    for (const w of this._welcomeWaiters.splice(0)) w.reject(err);
  }

  _onSocketClosed({ code, reason }) {
    this._connectionLost(new ParleyError({ code: 'disconnected', message: `connection closed (${code})` }));
    if (this.state === State.CLOSED) return;
    this._scheduleReconnect({ code, reason });
  }

  // Everything tied to one connection is reset; queued sends stay queued.
  _connectionLost(err) {
    clearTimeout(this._timers.connect);
    clearTimeout(this._timers.ping);
    clearTimeout(this._timers.pong);
    for (const [ref, req] of this._requests) {
      clearTimeout(req.timer);
      req.reject(err);
      this._requests.delete(ref);
    }
    for (const rec of this._rooms.values()) { rec.live = false; rec.joining = false; }
    for (const item of this._queue) { item.inflight = false; clearTimeout(item.timer); }
  }

  _scheduleReconnect({ code, reason }) {
    const { backoff, random, offlineAfterAttempts } = this.options;
    let attempt = this._attempt;
    if (CLIENT_BUG_CODES.has(code) || this._slowNext) attempt = 30; // the cap: never loop fast
    if (code === 1013) attempt = Math.max(attempt, 2);              // server asked us to back off
    const delay = backoffDelay(attempt, backoff, random);
    this._attempt++;
    this._slowNext = CLIENT_BUG_CODES.has(code);
    this._nextRetryAt = Date.now() + delay;
    const offline = this._attempt > offlineAfterAttempts || globalThis.navigator?.onLine === false;
    this._setState(offline ? State.OFFLINE : State.RECONNECTING, { code, reason, delayMs: delay, force: true });
    clearTimeout(this._timers.reconnect);
    this._timers.reconnect = setTimeout(() => this._open(this.state), delay);
  }

  _clearTimers() {
    for (const key of Object.keys(this._timers)) clearTimeout(this._timers[key]);
    for (const item of this._queue) clearTimeout(item.timer);
  }

  // A ping every pingIntervalMs (delayMs the first time); no pong within pongTimeoutMs drops the socket.
  _startHeartbeat(delayMs = this.options.pingIntervalMs) {
    clearTimeout(this._timers.ping);
    clearTimeout(this._timers.pong);
    const ws = this._ws;
    this._timers.ping = setTimeout(() => {
      if (this._ws !== ws || !ws) return;
      this._timers.pong = setTimeout(() => {
        if (this._ws === ws) this._dropSocket(ws, { code: 4001, reason: 'pong timeout' });
      }, this.options.pongTimeoutMs);
      this.ping().then(() => {
        clearTimeout(this._timers.pong);
        this._startHeartbeat();
      }, () => { /* connection lost; handled elsewhere */ });
    }, delayMs);
  }

  // --------------------------------------------------------------- framing

  _write(obj) {
    const ws = this._ws;
    if (!ws || ws.readyState !== 1) return false;
    ws.send(JSON.stringify(obj));
    return true;
  }

  _onFrame(data) {
    this.stats.frames++;
    const events = parseFrame(data, (line) => {
      this._emit('error', { type: 'error', code: 'bad_frame', message: 'unparsable line from server', line });
    });
    this.stats.events += events.length;
    this._emit('frame', { events: events.length });
    for (const evt of events) this._dispatch(evt);
  }

  _dispatch(event) {
    let evt = event;
    switch (evt.type) {
      case 'joined': this._onJoined(evt); break;
      case 'left': this._rooms.delete(evt.room); break;
      case 'room_deleted': this._onRoomDeleted(evt); break;
      case 'room_updated': this._onRoomUpdated(evt); break;
      case 'removed': evt = this._onRemoved(evt); break;
      case 'role': this._onRole(evt); break;
      case 'message':
      case 'edit':
      case 'delete':
      case 'react':
      case 'unreact': if (!this._onMessage(evt)) return; break;
      case 'ack': this._onAck(evt); break;
      case 'pong':
        if (typeof evt.server_time === 'number') this.serverTimeOffset = evt.server_time - Date.now();
        break;
      case 'error': if (this._onSendError(evt)) return; break;
      default: break;
    }
    if (evt.type !== 'error' || evt.ref === undefined || !this._requests.has(evt.ref)) {
      if (evt.type !== 'joined') this._emit(evt.type, evt);
    }
    this._emit('event', evt);
    if (evt.ref !== undefined && this._requests.has(evt.ref)) {
      const req = this._requests.get(evt.ref);
      this._requests.delete(evt.ref);
      clearTimeout(req.timer);
      if (evt.type === 'error') req.reject(new ParleyError(evt));
      else req.resolve(evt);
    }
  }

  _nextRef() { return ++this._ref; }

  _track(ref, type, timeoutMs = this.options.requestTimeoutMs) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._requests.delete(ref);
        reject(new ParleyError({ code: 'timeout', message: `${type} timed out` }));
      }, timeoutMs);
      this._requests.set(ref, { resolve, reject, timer, type });
    });
  }

  /** Send a request and resolve with its reply (rejects with ParleyError). */
  request(obj, { timeoutMs } = {}) {
    if (this.state !== State.CONNECTED) {
      return Promise.reject(new ParleyError({ code: 'disconnected', message: 'not connected' }));
    }
    const ref = this._nextRef();
    const p = this._track(ref, obj.type, timeoutMs);
    this._write({ ...obj, ref });
    return p;
  }

  // ----------------------------------------------------------------- rooms

  /** The first page of the room directory: [{room, members, last_seq}]. */
  async rooms() {
    return (await this.roomsPage()).rooms;
  }

  /**
   * One page of the room directory, in id order: {rooms: [{room, members, last_seq}], next}.
   * `q` keeps the ids that contain it (any case); `after` is the previous page's `next`; `next`
   * is null on the last page. The server caps `limit` (limits.rooms_page).
   */
  async roomsPage({ after, limit, q } = {}) {
    const req = { type: 'rooms' };
    if (after) req.after = after;
    if (limit) req.limit = limit;
    if (q) req.q = q;
    const reply = await this.request(req);
    return { rooms: reply.rooms ?? [], next: reply.next ?? null };
  }

  /**
   * Mark a joined room read up to `seq` (an account's; docs/protocol.md, "Read state"): resolves
   * with the `read` answer {seq, unread, mentions}; the user's other sessions hear a `read` too.
   */
  markRead(room, seq) {
    return this.request({ type: 'read', room, seq });
  }

  /** One page of a joined room's members, in name order: {members: [names], next}. */
  async members(room, { after, limit } = {}) {
    const req = { type: 'members', room };
    if (after) req.after = after;
    if (limit) req.limit = limit;
    const reply = await this.request(req);
    return { members: reply.members ?? [], next: reply.next ?? null };
  }

  /**
   * One page of a joined room's roster: {members: [{user, role?, online}], next} — those in it
   * now, then its members who are not, each in name order, with their roles.
   */
  async roster(room, { after, limit } = {}) {
    const req = { type: 'roster', room };
    if (after) req.after = after;
    if (limit) req.limit = limit;
    const reply = await this.request(req);
    return { members: reply.members ?? [], next: reply.next ?? null };
  }

  /**
   * Create a room (does not join it). `private`: listed to and joined by its members only (an
   * account's; a guest is refused with forbidden); `password`: with one (8 characters or more)
   * an account joins with it, without one by invitation only.
   */
  create(room, { private: isPrivate = false, password, title, topic } = {}) {
    const msg = { type: 'create', room };
    if (isPrivate) msg.private = true;
    if (isPrivate && password) msg.password = password;
    if (title) msg.title = title;
    if (topic) msg.topic = topic;
    return this.request(msg);
  }

  /**
   * Join a room. The client remembers it and re-joins it after every
   * reconnect with `since` = the last seq it saw, so no message is lost or
   * repeated. Pass `since` to get a backlog right away. `password`: a private
   * room's, sent with this join only and never kept: joining with it makes the
   * account a member, and a member's re-joins need none.
   */
  join(room, { since, password } = {}) {
    let rec = this._rooms.get(room);
    if (!rec) {
      rec = { lastSeq: null, live: false, joining: false };
      this._rooms.set(room, rec);
    }
    if (typeof since === 'number') rec.lastSeq = since;
    if (rec.live && typeof since !== 'number') {
      // Already in the room on this connection (the server would say already_joined).
      return Promise.resolve(rec.joinedEvent);
    }
    if (password && this.state !== State.CONNECTED) {
      // A password goes out on this connection or not at all: it is never queued or kept.
      if (!rec.joinedEvent) this._rooms.delete(room);
      return Promise.reject(new ParleyError({ code: 'disconnected', message: 'not connected' }));
    }
    if (this.state !== State.CONNECTED || (rec.joining && !password)) {
      // Joined when the connection comes back.
      return this.once('joined', (e) => e.room === room);
    }
    return this._sendJoin(room, rec, password);
  }

  _sendJoin(room, rec, password) {
    const msg = { type: 'join', room };
    if (rec.lastSeq !== null) msg.since = rec.lastSeq;
    if (password) msg.password = password;
    rec.joining = true;
    rec.resuming = rec.lastSeq !== null;
    return this.request(msg).catch((err) => {
      rec.joining = false;
      // A room this client cannot be in: forgotten, not joined again on every reconnect.
      // (confusable_name: another user there has a name that looks like this client's;
      // forbidden, bad_password: a private room that will not have us, or not yet. A password
      // join refused for now — rate_limited — is forgotten too: a re-join would carry none.)
      if (FORGET_ON_JOIN.has(err.code) || (password && err.code !== 'disconnected' && !rec.joinedEvent)) {
        this._forget(room, err);
      }
      throw err;
    });
  }

  _forget(room, err) {
    this._rooms.delete(room);
    this._failQueued((item) => item.room === room, err);
  }

  _rejoinAll() {
    for (const [room, rec] of this._rooms) {
      this._sendJoin(room, rec).catch((err) => {
        if (err.code !== 'disconnected') this._emit('error', { ...err.event, room });
      });
    }
  }

  _onJoined(evt) {
    let rec = this._rooms.get(evt.room);
    if (!rec) {
      rec = { lastSeq: null, live: false, joining: false };
      this._rooms.set(evt.room, rec);
    }
    const resumed = !!rec.resuming;
    if (rec.lastSeq === null) rec.lastSeq = evt.last_seq ?? 0;
    rec.live = true;
    rec.joining = false;
    rec.joinedEvent = evt;
    rec.role = evt.role ?? null;
    this._emit('joined', { ...evt, resumed, truncated: !!evt.truncated });
    this._flush();
  }

  /** Leave a room; queued sends for it are dropped (rejected). */
  async leave(room) {
    this._failQueued((item) => item.room === room, new ParleyError({ code: 'left', message: 'left the room' }));
    const rec = this._rooms.get(room);
    this._rooms.delete(room);
    if (!rec || this.state !== State.CONNECTED) return { type: 'left', room };
    return this.request({ type: 'leave', room });
  }

  // The owner changed a joined room's title or topic: roomInfo() tells them from now on.
  _onRoomUpdated(evt) {
    const rec = this._rooms.get(evt.room);
    if (rec?.joinedEvent) rec.joinedEvent = { ...rec.joinedEvent, title: evt.title, topic: evt.topic };
  }

  // The operator (or its owner) deleted a room: it is not re-joined on reconnect, its seq is forgotten (a room
  // created again with the same id starts at 1), and sends queued for it fail.
  _onRoomDeleted(evt) {
    this._failQueued((item) => item.room === evt.room,
      new ParleyError({ code: 'room_deleted', message: 'the room was deleted' }));
    this._rooms.delete(evt.room);
  }

  // Removed (or banned) from a room: when it is this client's user, the room is forgotten (a
  // re-join would be refused) and its queued sends fail. The event passed on says `self`.
  _onRemoved(evt) {
    const self = sameName(evt.user, this.user);
    if (self) {
      this._forget(evt.room, new ParleyError({ code: 'removed', message: 'removed from the room' }));
    }
    return { ...evt, self };
  }

  // A role given to this client's user (the answer to the owner's own set_role, say).
  _onRole(evt) {
    const rec = this._rooms.get(evt.room);
    if (rec?.joinedEvent && sameName(evt.user, this.user)) rec.role = evt.role;
  }

  /**
   * What the server said of a joined room: {private, role, title, topic} (role: owner,
   * moderator, member, or null for none — a guest, or a public room's visitor; title and topic:
   * '' when unset), or null for a room not joined.
   */
  roomInfo(room) {
    const rec = this._rooms.get(room);
    if (!rec?.joinedEvent) return null;
    const e = rec.joinedEvent;
    return { private: !!e.private, role: rec.role ?? null, title: e.title ?? '', topic: e.topic ?? '' };
  }

  /**
   * The owner renames a room or sets its topic (a field left undefined stays; '' clears it):
   * `Promise<room_updated>`. Every member in the room hears `room_updated`. Refused: anyone but
   * the owner (`forbidden`), a title over 64 or a topic over 256 characters (`bad_request`).
   */
  updateRoom(room, { title, topic } = {}) {
    const msg = { type: 'update_room', room };
    if (title !== undefined) msg.title = title;
    if (topic !== undefined) msg.topic = topic;
    return this.request(msg);
  }

  /**
   * The owner deletes a room, its messages with it: `Promise<room_deleted>`. Everyone who could
   * see it hears `room_deleted`, on every node of a cluster. Refused: anyone but the owner
   * (`forbidden`); while a cluster node cannot reach its broker (`unavailable`: try again).
   */
  deleteRoom(room) {
    return this.request({ type: 'delete_room', room });
  }

  /**
   * The direct conversation with another account: `Promise<dm>` ({room, user}: its room id, and
   * the other's name as the server spells it). Made on the first request of either of the two,
   * the same room ever after; not joined (join() it as any room). The other account's sessions
   * hear `created` with `direct: true` and `by`. Refused: a guest (`forbidden`), oneself
   * (`bad_request`), a name no account has (`no_such_user`), too many at once (`rate_limited`).
   */
  dm(user) {
    return this.request({ type: 'dm', user });
  }

  /** Invite an account to a private room (any member may): `Promise<invited>`. */
  invite(room, user) {
    return this.request({ type: 'invite', room, user });
  }

  /**
   * Remove a member (the owner, or a moderator a lower role): `Promise<removed>`; `ban` also
   * keeps them out until unban().
   */
  remove(room, user, { ban = false } = {}) {
    const msg = { type: 'remove', room, user };
    if (ban) msg.ban = true;
    return this.request(msg);
  }

  /** Lift a ban (the owner, moderators): `Promise<unbanned>`. */
  unban(room, user) {
    return this.request({ type: 'unban', room, user });
  }

  /** The owner makes a member a `moderator` or a `member` again: `Promise<role>`. */
  setRole(room, user, role) {
    return this.request({ type: 'set_role', room, user, role });
  }

  /** Rooms this client is in (it re-joins them on reconnect). */
  joinedRooms() { return [...this._rooms.keys()]; }

  /** Highest seq seen in a room, or null if unknown. */
  lastSeq(room) { return this._rooms.get(room)?.lastSeq ?? null; }

  _onMessage(evt) {
    const rec = this._rooms.get(evt.room);
    if (rec && typeof evt.seq === 'number') {
      if (rec.lastSeq !== null && evt.seq <= rec.lastSeq) {
        this.stats.duplicates++;
        return false; // already delivered
      }
      rec.lastSeq = evt.seq;
    }
    return true;
  }

  /**
   * Edit one's own message `seq` of `room`: resolves with the ack once the edit is durable (it has
   * a seq of its own; every member, this client too, also gets an `edit` event naming `seq`).
   * Rejects with the server's error: forbidden (not the author), deleted, no_such_message, ...
   * Not queued across a reconnect: the caller retries (the same cid makes a retry one edit).
   */
  edit(room, seq, text, { cid = `e-${this._cidTag}-${++this._cidCounter}` } = {}) {
    return this.request({ type: 'edit', room, seq, text, cid });
  }

  /** Delete message `seq` of `room` (one's own, or any as a moderator or owner); as edit(). */
  deleteMessage(room, seq, { cid = `d-${this._cidTag}-${++this._cidCounter}` } = {}) {
    return this.request({ type: 'delete', room, seq, cid });
  }

  /**
   * React to message `seq` of `room` with one emoji character (not a :shortcode:): resolves with
   * the ack; every member gets a `react` event naming `seq`. Idempotent: a reaction already there
   * is acked. Rejects with the server's error: bad_emoji, too_many_reactions, deleted, ...
   */
  react(room, seq, emoji, { cid = `r-${this._cidTag}-${++this._cidCounter}` } = {}) {
    return this.request({ type: 'react', room, seq, emoji, cid });
  }

  /** Take back one's reaction `emoji` to message `seq`; as react(). */
  unreact(room, seq, emoji, { cid = `u-${this._cidTag}-${++this._cidCounter}` } = {}) {
    return this.request({ type: 'unreact', room, seq, emoji, cid });
  }

  /**
   * Search the messages of the rooms this user may read (docs/protocol.md, "search"): resolves
   * {hits, next}, hits newest first ({room, seq, from, uid, text, ts}); `next` (null: no more)
   * is the `before` of the next page. Rejects with the server's error (bad_request, rate_limited…).
   */
  async search(q, { room, before, limit } = {}) {
    const msg = { type: 'search', q };
    if (room) msg.room = room;
    if (before) msg.before = before;
    if (limit) msg.limit = limit;
    const reply = await this.request(msg);
    return { hits: reply.hits ?? [], next: reply.next ?? null };
  }

  /** Older messages: resolves {messages, has_more} (ascending seq). */
  async history(room, { before, limit = 50 } = {}) {
    const msg = { type: 'history', room, limit };
    if (typeof before === 'number') msg.before = before;
    const reply = await this.request(msg);
    return { room, messages: reply.messages ?? [], has_more: !!reply.has_more };
  }

  ping() {
    return this.request({ type: 'ping' }, { timeoutMs: this.options.pongTimeoutMs });
  }

  /** Tell the room we are typing; throttled to one event per typingIntervalMs. */
  typing(room) {
    const now = Date.now();
    if (now - (this._lastTyping.get(room) ?? 0) < this.options.typingIntervalMs) return false;
    if (!this._rooms.get(room)?.live) return false;
    this._lastTyping.set(room, now);
    return this._write({ type: 'typing', room });
  }

  // ----------------------------------------------------------------- sends

  /**
   * Queue a message. Returns the queue entry: {cid, room, text, createdAt,
   * promise}. The promise resolves with the ack once the message is durable;
   * it survives disconnects (the entry is re-sent with the same cid after
   * reconnect, and the server dedupes it) and rejects only on a permanent
   * error (e.g. text_too_long) or leave(). `replyTo`: the seq of the message it answers.
   * `files`: uploaded files it carries (docs/api.md "Files"), as ids or as the upload's answers
   * ({id, name, ...}); the same ones go with every retry of the cid. With files, text may be "".
   */
  send(room, text, { replyTo, files } = {}) {
    const cid = `c-${this._cidTag}-${++this._cidCounter}`;
    const item = { cid, room, text, createdAt: Date.now(), attempts: 0, inflight: false, timer: null };
    if (typeof replyTo === 'number' && replyTo > 0) item.replyTo = replyTo;
    if (Array.isArray(files) && files.length) item.files = files.map((f) => (typeof f === 'string' ? { id: f, name: f } : f));
    item.promise = new Promise((resolve, reject) => { item.resolve = resolve; item.reject = reject; });
    item.promise.catch(() => { /* callers may ignore failures; the "send-failed" event reports them */ });
    if (this.limits?.max_frame_bytes) {
      const bytes = new TextEncoder().encode(JSON.stringify(this._frame(item))).length;
      if (bytes > this.limits.max_frame_bytes) {
        const err = new ParleyError({ code: 'frame_too_large', message: 'message too large' });
        item.reject(err);
        this._emit('send-failed', { cid, room, text, files: item.files, error: err });
        return item;
      }
    }
    this._queue.push(item);
    this._emit('queue', { pending: this._queue.length });
    this._flush();
    return item;
  }

  /** Queued sends not yet acknowledged (optionally for one room). */
  pending(room) {
    return this._queue.filter((item) => room === undefined || item.room === room)
      .map(({ cid, room: r, text, createdAt, inflight, files }) => ({ cid, room: r, text, createdAt, inflight, ...(files ? { files } : {}) }));
  }

  /** Drop a queued (not yet acknowledged) send. */
  cancel(cid) {
    this._failQueued((item) => item.cid === cid, new ParleyError({ code: 'cancelled', message: 'cancelled' }));
  }

  // Up to maxInFlight sends per room are on the wire at once, in queue order,
  // paced by a token bucket that follows the server's send_rate/send_burst so
  // we are not refused in the first place. When a send must wait (retry after
  // an error), the sends queued after it in that room wait too.
  _flush() {
    clearTimeout(this._timers.flush);
    if (this.state !== State.CONNECTED) return;
    const now = Date.now();
    const inflight = new Map();
    for (const item of this._queue) if (item.inflight) inflight.set(item.room, (inflight.get(item.room) ?? 0) + 1);
    const blocked = new Set();
    let wakeAt = Infinity;
    for (const item of this._queue) {
      if (item.inflight || blocked.has(item.room)) continue;
      const n = inflight.get(item.room) ?? 0;
      if (!this._rooms.get(item.room)?.live || n >= this.options.maxInFlight) { blocked.add(item.room); continue; }
      if (item.notBefore > now) { wakeAt = Math.min(wakeAt, item.notBefore); blocked.add(item.room); continue; }
      const wait = this._takeToken(now);
      if (wait > 0) { wakeAt = Math.min(wakeAt, now + wait); break; }
      this._transmit(item);
      inflight.set(item.room, n + 1);
    }
    if (wakeAt !== Infinity) this._timers.flush = setTimeout(() => this._flush(), Math.max(1, wakeAt - now));
  }

  // Client-side pacing: returns 0 and takes a token, or the ms to wait.
  _takeToken(now) {
    const rate = this.limits?.send_rate;
    const burst = this.limits?.send_burst;
    if (!(rate > 0) || !(burst > 0)) return 0;
    const r = rate * 0.9; // stay a little under the server's rate
    if (this._bucket === undefined) this._bucket = { tokens: burst, at: now };
    const b = this._bucket;
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) * r) / 1000);
    b.at = now;
    if (b.tokens >= 1) { b.tokens -= 1; return 0; }
    return Math.ceil(((1 - b.tokens) * 1000) / r);
  }

  _transmit(item) {
    item.inflight = true;
    item.attempts++;
    item.notBefore = 0;
    this._write(this._frame(item));
    clearTimeout(item.timer);
    item.timer = setTimeout(() => {
      // No ack: send the same cid again (the server dedupes).
      item.inflight = false;
      this._flush();
    }, this.options.ackTimeoutMs);
  }

  // A queued send's frame: the same cid, text, reply and files on every attempt.
  _frame(item) {
    const msg = { type: 'send', room: item.room, cid: item.cid, text: item.text, ref: item.cid };
    if (item.replyTo) msg.reply_to = item.replyTo;
    if (item.files) msg.files = item.files.map((f) => f.id);
    return msg;
  }

  _onAck(evt) {
    const idx = this._queue.findIndex((item) => item.cid === evt.cid);
    if (idx === -1) return;
    const [item] = this._queue.splice(idx, 1);
    clearTimeout(item.timer);
    item.resolve(evt);
    this._emit('queue', { pending: this._queue.length });
    this._flush();
  }

  // Returns true if the error belonged to a queued send (and was handled).
  _onSendError(evt) {
    if (typeof evt.ref !== 'string') return false;
    const item = this._queue.find((i) => i.cid === evt.ref);
    if (!item) return false;
    clearTimeout(item.timer);
    item.inflight = false;
    if (PERMANENT_SEND_ERRORS.has(evt.code) || item.attempts >= this.options.maxSendAttempts) {
      this._failQueued((i) => i === item, new ParleyError(evt));
      return true;
    }
    if (evt.code === 'not_joined') {
      const rec = this._rooms.get(item.room);
      if (rec && !rec.joining) {
        rec.live = false;
        this._sendJoin(item.room, rec).catch(() => {});
      }
    }
    const wait = evt.retry_after_ms ?? backoffDelay(item.attempts - 1, this.options.backoff, this.options.random);
    item.notBefore = Date.now() + wait;
    this._emit('send-retry', { cid: item.cid, room: item.room, code: evt.code, retryInMs: wait });
    this._flush();
    return true;
  }

  _failQueued(pred, err) {
    const failed = this._queue.filter(pred);
    if (failed.length === 0) return;
    this._queue = this._queue.filter((i) => !pred(i));
    for (const item of failed) {
      clearTimeout(item.timer);
      item.reject(err);
      this._emit('send-failed', { cid: item.cid, room: item.room, text: item.text, files: item.files, error: err });
    }
    this._emit('queue', { pending: this._queue.length });
    this._flush();
  }
}
