// Tiny DOM helpers. User data only ever becomes text nodes or attribute
// values here: there is deliberately no innerHTML anywhere in the UI.

/**
 * Create an element. props: class, text, dataset, style vars (--x), on<event>
 * handlers, boolean or string attributes. Children: nodes or strings (strings
 * become text nodes).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'vars') for (const [k, v] of Object.entries(value)) el.style.setProperty(k, v);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);

/** Toggle the hidden attribute. */
export function show(el, visible) {
  el.hidden = !visible;
}
