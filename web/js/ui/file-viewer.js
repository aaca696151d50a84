// An image attachment, full size, in a modal <dialog> (showModal: the rest of the page is inert,
// so the focus stays inside; Escape closes it): the image, its name and size, a download link
// and Close. A click outside the image (on the backdrop) closes it too; the focus goes back to
// the thumbnail that opened it.

import { humanSize, fileUrl } from '../files.js';

export class FileViewer {
  constructor({ dialog, img, name, meta, download, close }) {
    Object.assign(this, { dialog, img, name, meta, download });
    this.returnFocus = null;
    close.addEventListener('click', () => this.close());
    // The dialog's own box fills the screen: a click on it, not on what it holds, is the backdrop's.
    dialog.addEventListener('click', (e) => { if (e.target === dialog) this.close(); });
    dialog.addEventListener('close', () => {
      this.img.removeAttribute('src');
      // The thumbnail that opened it, or the same file's if the list was drawn again meanwhile.
      let back = this.returnFocus;
      if (back && !back.isConnected && this.fileId) {
        back = [...document.querySelectorAll('#message-list .attachment-image')].find((b) => b.dataset.fileId === this.fileId) ?? null;
      }
      back?.focus?.();
      this.returnFocus = null;
    });
  }

  get isOpen() { return this.dialog.open; }

  /** Show file f ({id, name, size, width, height}); the focus returns to `opener` when it closes. */
  show(f, opener = document.activeElement) {
    this.returnFocus = opener;
    this.fileId = f.id;
    this.img.src = fileUrl(f.id);
    this.img.alt = f.name;
    if (f.width > 0 && f.height > 0) {
      this.img.width = f.width;
      this.img.height = f.height;
    } else {
      this.img.removeAttribute('width');
      this.img.removeAttribute('height');
    }
    this.name.textContent = f.name;
    this.meta.textContent = [f.size === null || f.size === undefined ? null : humanSize(f.size), f.width > 0 && f.height > 0 ? `${f.width} × ${f.height}` : null].filter(Boolean).join(' · ');
    this.download.href = fileUrl(f.id);
    this.download.setAttribute('download', f.name);
    this.download.setAttribute('aria-label', `Download ${f.name}`);
    if (!this.dialog.open) this.dialog.showModal();
    this.dialog.querySelector('.viewer-close')?.focus();
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }
}
