// Attaching files to the message being written: the paperclip button (a file picker), a drop on
// the message area or the composer (a drop zone shows while files are dragged over it), and a
// paste into the message box. Each file becomes a chip above the composer and uploads at once
// (files.js, Attachments); the composer's Send waits for the uploads. Accounts only: a guest
// cannot upload (the server says 401), so a guest has no button and is told so on a drop.

import { Attachments, filesFrom, dragHasFiles } from '../files.js';
import { chipNode, updateChipProgress, imagePreview } from './attachments.js';

export class AttachBar {
  /**
   * button, input (type=file), chips (a list), dropTarget (where files may be dropped), dropZone
   * (its overlay), pasteTarget (the message box); onChange(): the composer re-checks Send;
   * tell(text): a refusal said to the user; limits(): { maxBytes, maxFiles } from the welcome.
   */
  constructor({ button, input, chips, dropTarget, dropZone, pasteTarget, onChange = () => {}, tell = () => {}, limits = () => ({}), upload }) {
    Object.assign(this, { button, input, chips, dropZone, onChange, tell });
    this.room = null;
    this.enabled = false;
    this.previews = new WeakMap(); // chip -> canvas
    this.model = new Attachments({
      limits,
      ...(upload ? { upload } : {}),
      onChange: (chip) => this._changed(chip),
    });

    button.addEventListener('click', () => input.click());
    input.addEventListener('change', () => {
      const files = [...(input.files ?? [])];
      input.value = ''; // the same file may be chosen again
      this.add(files);
    });
    chips.addEventListener('click', (e) => {
      const btn = e.target.closest('button[data-action="remove-file"]');
      if (!btn) return;
      const li = btn.closest('li');
      const next = li.nextElementSibling ?? li.previousElementSibling;
      this.model.remove(this.room, li.dataset.key);
      // The focus goes to the next chip's Remove, or back to the message box.
      (next?.querySelector('button') ?? pasteTarget).focus();
    });

    // Drag and drop: the overlay shows while files are over the target; a depth count, as
    // dragenter and dragleave fire for every child crossed.
    let depth = 0;
    const hide = () => { depth = 0; dropZone.hidden = true; };
    dropTarget.addEventListener('dragenter', (e) => {
      if (!dragHasFiles(e.dataTransfer)) return;
      e.preventDefault();
      depth++;
      dropZone.hidden = false;
      dropZone.classList.toggle('refused', !this.enabled);
    });
    dropTarget.addEventListener('dragover', (e) => {
      if (!dragHasFiles(e.dataTransfer)) return;
      e.preventDefault(); // else the browser would open the file in place of the app
      e.dataTransfer.dropEffect = this.enabled ? 'copy' : 'none';
    });
    dropTarget.addEventListener('dragleave', () => { if (--depth <= 0) hide(); });
    dropTarget.addEventListener('drop', (e) => {
      if (!dragHasFiles(e.dataTransfer)) return;
      e.preventDefault();
      hide();
      this.add(filesFrom(e.dataTransfer));
    });
    // A paste with files (a screenshot, files copied in a file manager) attaches them; text pastes as ever.
    pasteTarget.addEventListener('paste', (e) => {
      const files = filesFrom(e.clipboardData);
      if (!files.length) return;
      e.preventDefault();
      this.add(files);
    });
  }

  /** Accounts may attach; a guest sees no button. */
  setEnabled(enabled) {
    this.enabled = Boolean(enabled);
    this.button.hidden = !this.enabled;
  }

  /** The room whose message is being written: its chips are shown (each room keeps its own). */
  setRoom(room) {
    this.room = room;
    this._render();
  }

  add(files) {
    if (!files.length || !this.room) return;
    if (!this.enabled) {
      this.tell('Sign in to attach files: guests cannot upload.');
      return;
    }
    const room = this.room;
    for (const chip of this.model.add(room, files)) {
      imagePreview(chip.file).then((canvas) => {
        if (!canvas) return;
        this.previews.set(chip, canvas);
        const li = this._chipLi(chip);
        li?.querySelector('.attach-thumb')?.replaceChildren(canvas);
      });
    }
  }

  status() { return this.model.status(this.room); }
  ready() { return this.model.ready(this.room); }
  clear() { this.model.clear(this.room); }
  restore(room, infos) { this.model.restore(room, infos); }

  _chipLi(chip) {
    return [...this.chips.children].find((li) => li.dataset.key === chip.key) ?? null;
  }

  _changed(chip) {
    // Progress of a shown chip: in place. Anything else: the list again.
    if (chip && chip.room === this.room && chip.state === 'uploading') {
      const li = this._chipLi(chip);
      if (li) { updateChipProgress(li, chip); return; }
    }
    if (!chip || chip.room === this.room) this._render();
    else this.onChange();
  }

  _render() {
    const list = this.model.chips(this.room);
    const focused = this.chips.contains(document.activeElement) ? document.activeElement.closest('li')?.dataset.key : null;
    this.chips.replaceChildren(...list.map((chip) => chipNode(chip, this.previews.get(chip) ?? null)));
    this.chips.hidden = list.length === 0;
    if (focused) this.chips.querySelector(`li[data-key="${focused}"] button`)?.focus();
    this.onChange();
  }
}
