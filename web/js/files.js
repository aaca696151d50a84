// Files and images (docs/api.md "Files", docs/protocol.md "send"): sizes and types in words, the
// upload of one file (XMLHttpRequest, for its upload progress), an upload's refusal in words,
// what a drop or a paste holds, and the attachments of the message being written (one list per
// room: a file is uploaded to the room it will be sent in). No DOM here: tests/web/files.test.mjs
// runs it in plain Node with a fake XMLHttpRequest.

/** The most files one message may carry, unless the welcome says otherwise (limits.max_files_per_message). */
export const DEFAULT_MAX_FILES = 10;

/** A size in words: "1 byte", "512 bytes", "1.5 KB", "12 KB", "25 MB" (KB = 1024 bytes). */
export function humanSize(bytes) {
  const n = Number(bytes);
  if (!Number.isFinite(n) || n < 0) return '';
  if (n < 1024) return n === 1 ? '1 byte' : `${Math.round(n)} bytes`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  // One decimal under 10 (1.5 KB), none above (12 KB); never "10.0" or "1024 KB".
  let shown = v < 10 ? Math.round(v * 10) / 10 : Math.round(v);
  if (shown >= 1024 && u < units.length - 1) { shown = 1; u++; }
  return `${shown} ${units[u]}`;
}

const INLINE_IMAGES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

/** Is this a type the server serves inline as an image (never SVG)? */
export function isImageType(type) {
  return INLINE_IMAGES.has(String(type ?? '').toLowerCase());
}

/** The kind of a file for its icon: image, pdf, audio, video, archive, text or file. */
export function fileKind(type) {
  const t = String(type ?? '').toLowerCase();
  if (t.startsWith('image/')) return 'image';
  if (t === 'application/pdf') return 'pdf';
  if (t.startsWith('audio/')) return 'audio';
  if (t.startsWith('video/')) return 'video';
  if (/zip|x-tar|gzip|x-7z|x-rar|x-bzip/.test(t)) return 'archive';
  if (t.startsWith('text/')) return 'text';
  return 'file';
}

/** The paths of a file and its thumbnail (docs/api.md). */
export const fileUrl = (id) => `/api/files/${encodeURIComponent(id)}`;
export const thumbUrl = (id) => `${fileUrl(id)}/thumb`;
export const uploadUrl = (room, name) => `/api/rooms/${encodeURIComponent(room)}/files?name=${encodeURIComponent(name)}`;

/**
 * The attachments of a message as the server sent them, checked: entries with a string id and
 * name, numbers where numbers belong. Anything else is left out (a client must not trust a shape).
 */
export function messageFiles(m) {
  if (!m || m.deleted || !Array.isArray(m.files)) return [];
  const num = (v) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null);
  return m.files
    .filter((f) => f && typeof f.id === 'string' && f.id && typeof f.name === 'string')
    .map((f) => ({
      id: f.id,
      name: f.name,
      size: num(f.size),
      type: typeof f.type === 'string' ? f.type : '',
      width: num(f.width),
      height: num(f.height),
      thumb: f.thumb === true,
    }));
}

/** An image's shown size within max × max, keeping its ratio (null when its size is unknown). */
export function fitWithin(width, height, max = 320) {
  if (!(width > 0) || !(height > 0)) return null;
  const scale = Math.min(1, max / width, max / height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** The files a drop or a paste carries (a DataTransfer or ClipboardEvent's clipboardData). */
export function filesFrom(dt) {
  if (!dt) return [];
  const files = Array.from(dt.files ?? []);
  if (files.length) return files;
  // Some browsers list a pasted image only among the items.
  return Array.from(dt.items ?? [])
    .filter((item) => item.kind === 'file')
    .map((item) => item.getAsFile?.())
    .filter(Boolean);
}

/** Does a drag carry files (rather than text or a link)? Its files are readable only on drop. */
export function dragHasFiles(dt) {
  return Boolean(dt && Array.from(dt.types ?? []).includes('Files'));
}

/**
 * An upload's refusal in words, for its chip. result: { status, code, message, retryAfter, limit }
 * (limit: the server's size limit in bytes if known, from the error body or the welcome).
 */
export function uploadErrorText(result) {
  const { status, code } = result;
  const limit = result.limit > 0 ? result.limit : null;
  if (code === 'too_many_files') return result.message;
  if (code === 'network' || (status === 0 && !code)) return 'upload failed: the server could not be reached';
  if (code === 'quota_exceeded') return 'over your storage quota: delete some of your files first';
  if (code === 'empty_file') return 'the file is empty';
  if (status === 413 || code === 'file_too_large') return limit ? `too large: the limit is ${humanSize(limit)}` : 'too large for this server';
  if (status === 415 || code === 'type_not_allowed') return 'this type of file is not allowed';
  if (status === 401 || code === 'unauthorized') return 'sign in to attach files';
  if (status === 403 || code === 'forbidden') return 'you may not post files in this room';
  if (code === 'no_such_room') return 'this room no longer exists';
  if (status === 429 || code === 'rate_limited') {
    return result.retryAfter != null ? `too many uploads: try again in ${result.retryAfter} s` : 'too many uploads: try again in a moment';
  }
  if (status === 503 || code === 'overloaded') return 'the server is busy: try again in a moment';
  if (status === 400 && code === 'bad_request') return 'this file name is not allowed';
  return result.message ? `upload failed: ${result.message}` : `upload failed (${status})`;
}

function retryAfterOf(xhr) {
  const v = xhr.getResponseHeader?.('Retry-After');
  return v != null && /^\d+$/.test(String(v).trim()) ? Number(v) : null;
}

/**
 * Upload one file to a room: POST /api/rooms/{room}/files?name=…, the bytes as the body (the
 * browser sets Content-Length from the File). onProgress(loaded, total) as it goes. Returns
 * { promise, abort }; the promise resolves (never rejects) with
 * { ok, status, file, code, message, retryAfter, limit }: file is the server's answer
 * ({id, name, size, type, width, height, thumb}); limit a size limit the error body names.
 * An abort resolves with code "aborted".
 */
export function uploadFile(room, file, { onProgress = () => {}, makeXhr = () => new XMLHttpRequest() } = {}) {
  const xhr = makeXhr();
  let settle;
  const promise = new Promise((resolve) => { settle = resolve; });
  const fail = (status, code, message, extra = {}) => settle({ ok: false, status, file: null, code, message, retryAfter: null, limit: null, ...extra });
  xhr.open('POST', uploadUrl(room, file.name || 'file'));
  xhr.withCredentials = true; // the session cookie (same origin: sent anyway)
  xhr.responseType = 'text';
  if (xhr.upload) {
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); };
  }
  xhr.onload = () => {
    let data = null;
    try { data = JSON.parse(xhr.responseText || 'null'); } catch { /* a proxy's page */ }
    if (!data || typeof data !== 'object') data = {};
    if (xhr.status >= 200 && xhr.status < 300 && typeof data.id === 'string') {
      return settle({ ok: true, status: xhr.status, file: data, code: null, message: null, retryAfter: null, limit: null });
    }
    // The limit: a field of the body if the server gives one, else the byte count its message
    // names ("… (26214400 bytes)"); the welcome does not carry it.
    const said = typeof data.message === 'string' ? /\((\d+) bytes\)/.exec(data.message) : null;
    const limit = [data.max_bytes, data.limit, said ? Number(said[1]) : null].find((v) => typeof v === 'number' && v > 0) ?? null;
    return fail(xhr.status, typeof data.code === 'string' ? data.code : `http_${xhr.status}`,
      typeof data.message === 'string' && data.message ? data.message : `the server answered ${xhr.status}`,
      { retryAfter: retryAfterOf(xhr), limit });
  };
  xhr.onerror = () => fail(0, 'network', 'the server could not be reached');
  xhr.ontimeout = xhr.onerror;
  xhr.onabort = () => fail(0, 'aborted', 'removed');
  xhr.send(file);
  return { promise, abort: () => xhr.abort() };
}

let nextKey = 0;

/**
 * The attachments of the message being written, per room. Each chip:
 * { key, room, file, name, size, type, state: 'uploading' | 'done' | 'error', loaded, error, info }
 * (info: the server's answer once uploaded; error: the refusal in words). onChange(chip | null):
 * a chip's state or progress changed (null: chips were added or removed).
 */
export class Attachments {
  constructor({ upload = uploadFile, onChange = () => {}, limits = () => ({}) } = {}) {
    this.upload = upload;
    this.onChange = onChange;
    this.limits = limits; // { maxBytes, maxFiles }
    this.byRoom = new Map();
  }

  chips(room) { return this.byRoom.get(room) ?? []; }

  /** Add files to a room's message; each starts uploading at once (or is refused here: too many, too large). */
  add(room, files) {
    const list = this.byRoom.get(room) ?? [];
    this.byRoom.set(room, list);
    const { maxBytes, maxFiles = DEFAULT_MAX_FILES } = this.limits();
    const added = [];
    for (const file of files) {
      const chip = {
        key: `a${++nextKey}`, room, file, name: file.name || 'file', size: file.size, type: file.type || '',
        state: 'uploading', loaded: 0, error: null, info: null, abort: null,
      };
      list.push(chip);
      added.push(chip);
      if (list.filter((c) => c.state !== 'error').length > maxFiles) {
        this._fail(chip, { message: `too many files: at most ${maxFiles} per message`, code: 'too_many_files' }, false);
      } else if (file.size === 0) {
        this._fail(chip, { code: 'empty_file' }, false); // the server refuses an empty file
      } else if (maxBytes > 0 && file.size > maxBytes) {
        this._fail(chip, { status: 413, limit: maxBytes }, false);
      } else {
        this._start(chip);
      }
    }
    this.onChange(null);
    return added;
  }

  _start(chip) {
    const { promise, abort } = this.upload(chip.room, chip.file, {
      onProgress: (loaded) => { chip.loaded = loaded; this.onChange(chip); },
    });
    chip.abort = abort;
    promise.then((r) => {
      chip.abort = null;
      if (r.code === 'aborted' || !this.chips(chip.room).includes(chip)) return;
      if (r.ok) {
        chip.state = 'done';
        chip.loaded = chip.size;
        chip.info = r.file;
      } else {
        this._fail(chip, { ...r, limit: r.limit ?? this.limits().maxBytes }, false);
      }
      this.onChange(chip);
    });
  }

  _fail(chip, result, notify = true) {
    chip.state = 'error';
    chip.error = uploadErrorText({ status: null, code: null, ...result });
    if (notify) this.onChange(chip);
  }

  /** Take a chip away (its upload is stopped if still going). */
  remove(room, key) {
    const list = this.chips(room);
    const i = list.findIndex((c) => c.key === key);
    if (i === -1) return;
    const [chip] = list.splice(i, 1);
    chip.abort?.();
    this.onChange(null);
  }

  /** Put uploaded files back (a failed send taken back into the composer). */
  restore(room, infos) {
    const list = this.byRoom.get(room) ?? [];
    this.byRoom.set(room, list);
    for (const info of infos) {
      list.push({
        key: `a${++nextKey}`, room, file: null, name: info.name, size: info.size, type: info.type ?? '',
        state: 'done', loaded: info.size, error: null, info, abort: null,
      });
    }
    this.onChange(null);
  }

  /** The room's attachments are sent (or dropped): forgotten, uploads stopped. */
  clear(room) {
    for (const chip of this.chips(room)) chip.abort?.();
    this.byRoom.delete(room);
    this.onChange(null);
  }

  /** What the composer needs: how many, whether one still uploads or was refused. */
  status(room) {
    const list = this.chips(room);
    return {
      count: list.length,
      busy: list.some((c) => c.state === 'uploading'),
      failed: list.some((c) => c.state === 'error'),
    };
  }

  /** The uploaded files of a room's message, as the server described them, in order. */
  ready(room) {
    return this.chips(room).filter((c) => c.state === 'done').map((c) => c.info);
  }
}
