// Sidebar drawer on narrow screens: toggled by the menu button, closed by
// Escape, the backdrop or choosing a room; inert while closed so keyboard
// focus never lands in an invisible panel.

const PHONE_QUERY = '(max-width: 760px)';

export class Sidebar {
  constructor({ app, sidebar, main, openBtn, closeBtn, backdrop }) {
    Object.assign(this, { app, sidebar, main, openBtn, closeBtn, backdrop });
    this.mq = window.matchMedia(PHONE_QUERY);
    this.open = false;
    openBtn.addEventListener('click', () => this.setOpen(true));
    closeBtn.addEventListener('click', () => this.setOpen(false));
    backdrop.addEventListener('click', () => this.setOpen(false));
    sidebar.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.isPhone && this.open) {
        // Let an open sub-form handle its own Escape first.
        if (e.target.closest('form')) return;
        this.setOpen(false);
      }
    });
    this.mq.addEventListener('change', () => this.sync());
    this.sync();
  }

  get isPhone() { return this.mq.matches; }

  setOpen(open, { focus = true } = {}) {
    this.open = open;
    this.sync();
    if (!this.isPhone || !focus) return;
    if (open) (this.sidebar.querySelector('[aria-current="page"]') ?? this.closeBtn).focus();
    else this.openBtn.focus();
  }

  /** Close if it is a drawer (after choosing a room on a phone). */
  closeIfPhone() {
    if (this.isPhone && this.open) this.setOpen(false, { focus: false });
  }

  sync() {
    const drawer = this.isPhone;
    const open = drawer && this.open;
    this.app.classList.toggle('drawer-open', open);
    this.backdrop.hidden = !open;
    this.openBtn.setAttribute('aria-expanded', String(open));
    this.sidebar.inert = drawer && !open;
    this.main.inert = open;
    if (drawer) {
      this.sidebar.setAttribute('role', 'dialog');
      this.sidebar.setAttribute('aria-modal', String(open));
    } else {
      this.sidebar.removeAttribute('role');
      this.sidebar.removeAttribute('aria-modal');
    }
  }
}
