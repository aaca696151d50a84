// Files in the UI: a message's attachments (images inline as their thumbnail, other files as
// cards with a download link), and the chips above the composer of the files being attached
// (name, size, a preview of an image, upload progress, a refusal in words, Remove). File names
// are only ever text nodes and attribute values (dom.js): a name is never HTML.

import { h } from './dom.js';
import { humanSize, isImageType, fileKind, fileUrl, thumbUrl, fitWithin, messageFiles } from '../files.js';

const KIND_LABEL = { image: 'Image', pdf: 'PDF', audio: 'Audio', video: 'Video', archive: 'Archive', text: 'Text', file: 'File' };

/** A file's type icon (a mask per kind in chat.css), hidden from screen readers. */
export function fileIcon(type) {
  const kind = fileKind(type);
  return h('span', { class: `file-icon file-icon-${kind}`, 'aria-hidden': 'true', dataset: { kind } });
}

/** "cat.png, 12 KB" for labels; the size left out when unknown. */
function described(f) {
  return f.size === null || f.size === undefined ? f.name : `${f.name}, ${humanSize(f.size)}`;
}

/** An image attachment: its thumbnail at its final size (no jump when it loads), a button to the viewer. */
function imageNode(f) {
  const size = fitWithin(f.width, f.height);
  return h('button', {
    type: 'button',
    class: 'attachment-image',
    dataset: { action: 'view-file', fileId: f.id },
    'aria-label': `View image ${described(f)}`,
    'aria-haspopup': 'dialog',
  }, h('img', {
    src: thumbUrl(f.id),
    alt: f.name,
    loading: 'lazy',
    decoding: 'async',
    ...(size ? { width: String(size.width), height: String(size.height) } : {}),
  }));
}

/** Another file: its kind's icon, name, size, and a download link. */
function cardNode(f) {
  return h('div', { class: 'file-card', dataset: { fileId: f.id } },
    fileIcon(f.type),
    h('span', { class: 'file-card-text' },
      h('span', { class: 'file-name', title: f.name }, f.name),
      h('span', { class: 'file-meta' }, [KIND_LABEL[fileKind(f.type)], f.size === null ? null : humanSize(f.size)].filter(Boolean).join(' · '))),
    h('a', {
      class: 'file-download',
      href: fileUrl(f.id),
      download: f.name,
      'aria-label': `Download ${described(f)}`,
    }, 'Download'));
}

/**
 * A message's attachments (none for a deleted message), or null. A guest fetches them as well: a
 * guest is only ever in public rooms, whose files any guest may read (api.md).
 */
export function attachmentsNode(m) {
  const files = messageFiles(m);
  if (!files.length) return null;
  return h('div', { class: 'attachments', role: 'group', 'aria-label': files.length === 1 ? 'Attachment' : `${files.length} attachments` },
    ...files.map((f) => (isImageType(f.type) && f.thumb ? imageNode(f) : cardNode(f))));
}

/** What a chip's status line says. */
export function chipStatus(chip) {
  if (chip.state === 'error') return chip.error;
  if (chip.state === 'done') return humanSize(chip.size);
  const pct = chip.size > 0 ? Math.min(100, Math.floor((chip.loaded / chip.size) * 100)) : 0;
  return `${humanSize(chip.size)} · uploading ${pct}%`;
}

/** One chip above the composer. preview: a node showing the image (a canvas), if any. */
export function chipNode(chip, preview = null) {
  const pct = chip.size > 0 ? Math.min(100, Math.floor((chip.loaded / chip.size) * 100)) : 0;
  return h('li', { class: `attach-chip ${chip.state}`, dataset: { key: chip.key } },
    h('span', { class: 'attach-thumb' }, preview ?? fileIcon(chip.type)),
    h('span', { class: 'attach-text' },
      h('span', { class: 'file-name', title: chip.name }, chip.name),
      h('span', { class: 'attach-status', role: chip.state === 'error' ? 'alert' : null }, chipStatus(chip)),
      chip.state === 'uploading'
        ? h('progress', { class: 'attach-progress', max: '100', value: String(pct), 'aria-label': `Uploading ${chip.name}` })
        : null),
    h('button', { type: 'button', class: 'icon-btn small attach-remove', dataset: { action: 'remove-file' }, 'aria-label': `Remove ${chip.name}`, title: 'Remove' },
      h('span', { class: 'x-icon', 'aria-hidden': 'true' }, '×')));
}

/** Update a chip's progress and status in place (no node made: the focus stays where it is). */
export function updateChipProgress(li, chip) {
  const status = li.querySelector('.attach-status');
  if (status) status.textContent = chipStatus(chip);
  const bar = li.querySelector('.attach-progress');
  if (bar && chip.size > 0) bar.value = Math.min(100, Math.floor((chip.loaded / chip.size) * 100));
}

/**
 * A small preview of an image file, drawn on a canvas: createImageBitmap reads the File itself,
 * so the page's Content-Security-Policy (img-src 'self') needs no blob: for it. Resolves to null
 * for anything that is not an image the browser decodes.
 */
export async function imagePreview(file, max = 48) {
  if (!file || !isImageType(file.type) || typeof createImageBitmap !== 'function') return null;
  try {
    const bitmap = await createImageBitmap(file);
    // Scaled to fill the chip's square (a tiny image too), its ratio kept.
    const scale = max / Math.max(bitmap.width, bitmap.height, 1);
    const size = { width: Math.max(1, Math.round(bitmap.width * scale)), height: Math.max(1, Math.round(bitmap.height * scale)) };
    const canvas = h('canvas', { class: 'attach-preview', width: String(size.width), height: String(size.height), role: 'img', 'aria-label': `Preview of ${file.name}` });
    canvas.getContext('2d')?.drawImage(bitmap, 0, 0, size.width, size.height);
    bitmap.close?.();
    return canvas;
  } catch {
    return null;
  }
}
