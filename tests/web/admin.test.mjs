// The admin console's sparklines (web/js/admin/sparkline.js): pure point lists, no DOM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sparkPoints } from '../../web/js/admin/sparkline.js';

const ys = (points) => points.split(' ').map((p) => Number(p.split(',')[1]));
const xs = (points) => points.split(' ').map((p) => Number(p.split(',')[0]));

test('sparkPoints: scaled to the largest value, the newest at the right edge', () => {
  const p = sparkPoints([0, 5, 10], 120, 28, 60);
  assert.deepEqual(ys(p), [27, 14, 1]); // 0 at the bottom, the largest at the top
  assert.equal(xs(p).at(-1), 120);
  assert.ok(xs(p)[0] > 0, 'three samples of sixty start near the right');
});

test('sparkPoints: all zero, or not numbers, is a flat line at the bottom; none is empty', () => {
  assert.deepEqual(ys(sparkPoints([0, 0, 0])), [27, 27, 27]);
  assert.deepEqual(ys(sparkPoints([NaN, -3, undefined])), [27, 27, 27]);
  assert.equal(sparkPoints([]), '');
});

test('sparkPoints: a full minute spans the whole width', () => {
  const p = sparkPoints(Array.from({ length: 60 }, (_, i) => i), 120, 28, 60);
  assert.equal(xs(p)[0], 0);
  assert.equal(xs(p).at(-1), 120);
});
