// Search in the browser (web/js/search.js): the words the server searches for, and what a hit
// shows marked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { searchTerms, highlight, fold } from '../../web/js/search.js';

test('searchTerms: words split at spaces and punctuation, as the server splits them', () => {
  assert.deepEqual(searchTerms('deploy failed'), ['deploy', 'failed']);
  assert.deepEqual(searchTerms('  deploy-failed,  again! '), ['deploy', 'failed', 'again']);
  assert.deepEqual(searchTerms('"NEAR(a b)" OR text:x*'), ['NEAR', 'a', 'b', 'OR', 'text', 'x']);
  assert.deepEqual(searchTerms('Déploiement 日本語、テスト 🚀 ship🚀it 5€'), ['Déploiement', '日本語', 'テスト', 'ship', 'it', '5']);
  assert.deepEqual(searchTerms('"*()-:^+ — «»'), []);
  assert.deepEqual(searchTerms(''), []);
  assert.deepEqual(searchTerms(undefined), []);
});

test('fold: case and accents', () => {
  assert.equal(fold('DÉJÀ'), 'deja');
});

test('highlight: every word of the query marked, the last one also as a prefix', () => {
  const runs = highlight('Deploy failed on staging; deploying again', 'deploy fail');
  assert.equal(runs.map((r) => r.text).join(''), 'Deploy failed on staging; deploying again');
  assert.deepEqual(runs.filter((r) => r.mark).map((r) => r.text), ['Deploy', 'failed']);
  // Only the last word is a prefix.
  assert.deepEqual(highlight('deploying failed', 'deploy failed').filter((r) => r.mark).map((r) => r.text), ['failed']);
  assert.deepEqual(highlight('Déjà vu', 'deja').filter((r) => r.mark).map((r) => r.text), ['Déjà']);
});

test('highlight: text is only ever text (markup stays characters)', () => {
  const text = '<img src=x onerror=alert(1)> deploy <b>now</b>';
  const runs = highlight(text, 'deploy img');
  assert.equal(runs.map((r) => r.text).join(''), text);
  assert.deepEqual(runs.filter((r) => r.mark).map((r) => r.text), ['img', 'deploy']);
  assert.deepEqual(highlight('', 'x'), []);
  assert.deepEqual(highlight('abc', ''), [{ text: 'abc', mark: false }]);
});
