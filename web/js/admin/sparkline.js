// Inline-SVG sparklines for the admin console: a polyline over the last values, scaled to the
// largest of them (a flat line at the bottom when all are 0). No DOM library, no canvas.

const SVG = 'http://www.w3.org/2000/svg';

/** The polyline's points for `values` in a width x height box (x from 0, y down from the top). */
export function sparkPoints(values, width = 120, height = 28, slots = 60) {
  if (values.length === 0) return '';
  const max = Math.max(...values.map((v) => (Number.isFinite(v) && v > 0 ? v : 0)));
  const step = slots > 1 ? width / (slots - 1) : 0;
  const start = Math.max(0, slots - values.length); // the newest value at the right edge
  return values
    .map((v, i) => {
      const value = Number.isFinite(v) && v > 0 ? v : 0;
      const y = max > 0 ? height - 1 - (value / max) * (height - 2) : height - 1;
      return `${((start + i) * step).toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
}

/** An <svg> sparkline of `values`, described by `label` for screen readers. */
export function sparkline(values, label) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 120 28');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('points', sparkPoints(values));
  svg.append(line);
  return svg;
}
