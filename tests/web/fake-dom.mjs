// The smallest DOM that web/js/ui/dom.js and linkify.js need: elements with
// attributes, children and text nodes. Anything that would parse HTML
// (innerHTML, outerHTML, insertAdjacentHTML, createContextualFragment)
// throws, so a test fails if user text ever goes that way.

const htmlParsing = (what) => () => { throw new Error(`${what} used: user text must never be parsed as HTML`); };

export class FakeNode {}

export class FakeText extends FakeNode {
  constructor(data) {
    super();
    this.data = data;
  }
  get nodeType() { return 3; }
  get textContent() { return this.data; }
}

export class FakeElement extends FakeNode {
  constructor(tag) {
    super();
    this.tagName = tag.toUpperCase();
    this.childNodes = [];
    this.attributes = new Map();
    this.dataset = {};
    this.listeners = [];
    const vars = new Map();
    this.style = { vars, setProperty: (k, v) => vars.set(k, String(v)) };
  }
  get nodeType() { return 1; }
  get className() { return this.attributes.get('class') ?? ''; }
  set className(v) { this.attributes.set('class', String(v)); }
  setAttribute(k, v) { this.attributes.set(k, String(v)); }
  getAttribute(k) { return this.attributes.has(k) ? this.attributes.get(k) : null; }
  addEventListener(type, fn) { this.listeners.push([type, fn]); }
  /** Like ParentNode.append: nodes are moved in, anything else becomes a text node. */
  append(...items) {
    for (const item of items) this.childNodes.push(item instanceof FakeNode ? item : new FakeText(String(item)));
  }
  get children() { return this.childNodes.filter((n) => n instanceof FakeElement); }
  get firstElementChild() { return this.children[0] ?? null; }
  /** Descendants matching a simple selector: `tag.class[data-key]`, each part optional; a list with `,`. */
  querySelectorAll(selectors) {
    const tests = selectors.split(',').map((sel) => {
      const m = /^\s*([a-z0-9]*)((?:\.[\w-]+)*)(?:\[data-([\w-]+)\])?\s*$/i.exec(sel);
      if (!m) throw new Error(`fake DOM: unsupported selector ${sel}`);
      const classes = m[2].split('.').filter(Boolean);
      return (el) => (!m[1] || el.tagName === m[1].toUpperCase())
        && classes.every((c) => el.className.split(' ').includes(c))
        && (!m[3] || m[3] in el.dataset);
    });
    const found = [];
    const walk = (el) => {
      for (const c of el.children) {
        if (tests.some((t) => t(c))) found.push(c);
        walk(c);
      }
    };
    walk(this);
    return found;
  }
  get textContent() { return this.childNodes.map((n) => n.textContent).join(''); }
  set textContent(v) { this.childNodes = v === '' || v === null ? [] : [new FakeText(String(v))]; }
  set innerHTML(_) { htmlParsing('innerHTML')(); }
  get innerHTML() { return htmlParsing('innerHTML')(); }
  set outerHTML(_) { htmlParsing('outerHTML')(); }
  insertAdjacentHTML() { htmlParsing('insertAdjacentHTML')(); }
}

/**
 * Install `document` and `Node` on globalThis for the rest of this test file
 * (each node:test file runs in its own process). Returns the log of created tags.
 */
export function installFakeDom() {
  const created = [];
  globalThis.Node = FakeNode;
  globalThis.document = {
    createElement(tag) {
      created.push(tag);
      return new FakeElement(tag);
    },
    createTextNode: (data) => new FakeText(String(data)),
    createRange: () => ({ createContextualFragment: htmlParsing('createContextualFragment') }),
  };
  return created;
}
