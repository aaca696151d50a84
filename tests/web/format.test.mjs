// Unit tests of web/js/ui/format.js: times, day labels and day keys around
// midnight, month, year and daylight-saving boundaries; code-point lengths;
// avatar initials and colours; plurals and name lists.
// Plain Node, no browser. Run: node tests/run.mjs web   (npm run test:web)
//
// Every date is fixed (the real clock is never read) and local time is New
// York's, which has daylight saving. The exact wording of dates and times is
// checked only when the default locale is en-US (it is unless LANG says
// otherwise); everything else holds in any locale.

import { test } from 'node:test';
import assert from 'node:assert/strict';

// format.js builds its Intl formatters on load, so the zone is set first.
process.env.TZ = 'America/New_York';
const { formatTime, formatFull, relativeTime, dayKey, dayLabel, textLength, initial, hue, plural, listNames, sameSender } = await import('../../web/js/ui/format.js');

const EN = new Intl.DateTimeFormat().resolvedOptions().locale === 'en-US';
const enOnly = { skip: EN ? false : 'the default locale is not en-US' };

/** A local (New York) time as epoch ms; month is 1-12. */
const at = (y, mo, d, h = 0, mi = 0, s = 0, ms = 0) => new Date(y, mo - 1, d, h, mi, s, ms).getTime();
const HOUR = 3600e3;
// ICU puts a narrow no-break space before AM/PM in some versions and a plain one in others.
const spaces = (s) => s.replace(/\s/g, ' ');

test('the tests really run in New York time', () => {
  assert.equal(new Date(Date.UTC(2024, 0, 15, 14, 5)).getHours(), 9, 'EST is UTC-5');
  assert.equal(new Date(Date.UTC(2024, 6, 15, 13, 5)).getHours(), 9, 'EDT is UTC-4');
});

// ---------------------------------------------------------------------- times

test('formatTime: local hour and two-digit minutes, around midnight and noon', enOnly, () => {
  assert.equal(spaces(formatTime(at(2024, 1, 15, 9, 5))), '9:05 AM');
  assert.equal(spaces(formatTime(at(2024, 1, 15, 0, 0))), '12:00 AM');
  assert.equal(spaces(formatTime(at(2024, 1, 15, 0, 0, 59, 999))), '12:00 AM', 'seconds are not rounded up');
  assert.equal(spaces(formatTime(at(2024, 1, 15, 11, 59))), '11:59 AM');
  assert.equal(spaces(formatTime(at(2024, 1, 15, 12, 0))), '12:00 PM');
  assert.equal(spaces(formatTime(at(2024, 1, 15, 23, 59, 59))), '11:59 PM');
  assert.equal(spaces(formatTime(Date.UTC(2024, 0, 15, 14, 5))), '9:05 AM', 'server timestamps are UTC; shown in local time');
});

test('formatTime across daylight saving: the skipped and the repeated hour', enOnly, () => {
  // 2024-03-10: 02:00 EST jumps to 03:00 EDT.
  assert.equal(spaces(formatTime(Date.UTC(2024, 2, 10, 6, 59))), '1:59 AM');
  assert.equal(spaces(formatTime(Date.UTC(2024, 2, 10, 7, 0))), '3:00 AM');
  // 2024-11-03: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
  assert.equal(spaces(formatTime(Date.UTC(2024, 10, 3, 5, 30))), '1:30 AM');
  assert.equal(spaces(formatTime(Date.UTC(2024, 10, 3, 6, 30))), '1:30 AM');
});

test('formatFull (the tooltip): weekday, date with year, and time', enOnly, () => {
  assert.match(spaces(formatFull(at(2024, 3, 10, 9, 5))), /^Sunday, March 10, 2024(,| at) 9:05 AM$/);
  assert.match(spaces(formatFull(at(2000, 1, 1, 0, 0))), /^Saturday, January 1, 2000(,| at) 12:00 AM$/);
});

test('relativeTime: "just now" in the first minute, minutes within the hour, then the clock time', () => {
  const t = at(2024, 3, 10, 9, 5);
  assert.equal(relativeTime(t, t), 'just now');
  assert.equal(relativeTime(t, t + 59_999), 'just now');
  assert.equal(relativeTime(t, t - 90_000), 'just now', 'a time a little ahead of this clock (skew)');
  assert.equal(relativeTime(t, t + 60_000), '1 min');
  assert.equal(relativeTime(t, t + 5 * 60_000 + 30_000), '5 min');
  assert.equal(relativeTime(t, t + 3600e3 - 1), '59 min');
  assert.equal(relativeTime(t, t + 3600e3), formatTime(t));
  assert.equal(relativeTime(t, t + 30 * 86400e3), formatTime(t), 'older: the clock time (the day separator says the day)');
});

// ----------------------------------------------------------------------- days

test('dayKey is the local calendar day: it changes at local midnight, not UTC midnight', () => {
  assert.equal(dayKey(at(2024, 11, 23, 12)), '2024-11-23');
  assert.equal(dayKey(at(2024, 1, 14, 23, 59, 59, 999)), '2024-1-14');
  assert.equal(dayKey(at(2024, 1, 15)), '2024-1-15');
  // 02:00 UTC on the 15th is still the evening of the 14th in New York.
  assert.equal(dayKey(Date.UTC(2024, 0, 15, 2, 0)), '2024-1-14');
});

test('dayKey: every hour of a 23- and a 25-hour day has the same key; every day of a leap year a different one', () => {
  for (const [y, mo, d, hours] of [[2024, 3, 10, 23], [2024, 11, 3, 25]]) {
    const start = at(y, mo, d);
    assert.equal(at(y, mo, d + 1) - start, hours * HOUR, `${y}-${mo}-${d} has ${hours} hours`);
    for (let t = start; t < start + hours * HOUR; t += 15 * 60e3) assert.equal(dayKey(t), `${y}-${mo}-${d}`);
  }
  // Not zero-padded: make sure e.g. 2024-1-11 and 2024-11-1 cannot collide.
  const keys = new Set();
  for (let d = 1; d <= 366; d++) keys.add(dayKey(at(2024, 1, d, 12)));
  assert.equal(keys.size, 366);
  assert.ok(keys.has('2024-2-29') && keys.has('2024-12-31'));
});

test('dayLabel: Today from midnight to midnight, Yesterday for the whole previous day, then a date', () => {
  const now = at(2024, 3, 15, 12);
  assert.equal(dayLabel(at(2024, 3, 15, 0, 0), now), 'Today');
  assert.equal(dayLabel(at(2024, 3, 15, 23, 59, 59, 999), now), 'Today', 'later today (a clock a little ahead)');
  assert.equal(dayLabel(at(2024, 3, 14, 23, 59, 59, 999), now), 'Yesterday');
  assert.equal(dayLabel(at(2024, 3, 14, 0, 0), now), 'Yesterday');
  assert.notEqual(dayLabel(at(2024, 3, 13, 23, 59, 59, 999), now), 'Yesterday');
  assert.notEqual(dayLabel(at(2024, 3, 16, 0, 0), now), 'Today', 'tomorrow is not today');
  // Just after midnight, a message of ten minutes ago is Yesterday.
  assert.equal(dayLabel(at(2024, 3, 14, 23, 50), at(2024, 3, 15, 0, 0, 0, 1)), 'Yesterday');
});

test('dayLabel: Yesterday across month ends, leap days and New Year', () => {
  assert.equal(dayLabel(at(2024, 2, 29, 18), at(2024, 3, 1, 9)), 'Yesterday');
  assert.equal(dayLabel(at(2023, 2, 28, 18), at(2023, 3, 1, 9)), 'Yesterday');
  assert.equal(dayLabel(at(2024, 4, 30, 23), at(2024, 5, 1, 0, 30)), 'Yesterday');
  assert.equal(dayLabel(at(2024, 12, 31, 23, 59), at(2025, 1, 1, 0, 0, 1)), 'Yesterday');
  assert.notEqual(dayLabel(at(2024, 2, 28, 18), at(2024, 3, 1, 9)), 'Yesterday');
});

test('dayLabel: Today and Yesterday hold on the daylight-saving days and the days after them', () => {
  // Spring forward: 2024-03-10 has 23 hours.
  assert.equal(dayLabel(at(2024, 3, 10, 0, 30), at(2024, 3, 10, 23, 30)), 'Today');
  assert.equal(dayLabel(at(2024, 3, 9, 23, 30), at(2024, 3, 10, 12)), 'Yesterday');
  assert.equal(dayLabel(at(2024, 3, 10, 0, 0), at(2024, 3, 11, 0, 30)), 'Yesterday');
  assert.equal(dayLabel(at(2024, 3, 10, 1, 59), at(2024, 3, 11, 2, 30)), 'Yesterday', '02:30 on the 10th did not exist');
  assert.notEqual(dayLabel(at(2024, 3, 9, 23, 59), at(2024, 3, 11, 0, 30)), 'Yesterday');
  // Fall back: 2024-11-03 has 25 hours; both 01:30s are that day.
  assert.equal(dayLabel(Date.UTC(2024, 10, 3, 5, 30), at(2024, 11, 3, 23, 59)), 'Today');
  assert.equal(dayLabel(Date.UTC(2024, 10, 3, 6, 30), at(2024, 11, 3, 23, 59)), 'Today');
  assert.equal(dayLabel(at(2024, 11, 3, 0, 5), at(2024, 11, 4, 0, 10)), 'Yesterday');
  assert.equal(dayLabel(at(2024, 11, 3, 23, 59), at(2024, 11, 4, 23, 59)), 'Yesterday');
  assert.notEqual(dayLabel(at(2024, 11, 2, 23, 59), at(2024, 11, 4, 0, 10)), 'Yesterday');
});

test('dayLabel: older days are a long date, with the year only when it is not this year', enOnly, () => {
  assert.equal(dayLabel(at(2024, 3, 13, 23, 59), at(2024, 3, 15, 12)), 'Wednesday, March 13');
  assert.equal(dayLabel(at(2024, 1, 1, 0, 0), at(2024, 12, 31, 23, 59)), 'Monday, January 1');
  assert.equal(dayLabel(at(2024, 12, 30, 10), at(2025, 1, 1, 0, 0, 1)), 'Monday, December 30, 2024');
  assert.equal(dayLabel(at(2023, 3, 15, 12), at(2024, 3, 15, 12)), 'Wednesday, March 15, 2023', 'a year ago today');
  assert.equal(dayLabel(at(2024, 3, 16, 12), at(2024, 3, 15, 12)), 'Saturday, March 16');
});

test('dayLabel: the year is shown exactly for other years (any locale)', () => {
  const now = at(2024, 6, 15, 12);
  assert.ok(!dayLabel(at(2024, 1, 1, 0), now).includes('2024'));
  assert.ok(dayLabel(at(2023, 12, 31, 23, 59), now).includes('2023'));
  assert.ok(dayLabel(at(1999, 6, 15, 12), now).includes('1999'));
});

// ----------------------------------------------------------------- characters

/** The server's count: UTF-8 bytes that are not continuation bytes. */
const serverLength = (s) => [...Buffer.from(s, 'utf8')].filter((b) => (b & 0xc0) !== 0x80).length;

test('textLength counts code points, like the server, not UTF-16 units or graphemes', () => {
  const cases = [
    ['', 0],
    ['hello', 5],
    ['👋', 1],                 // one code point, two UTF-16 units
    ['café', 4],               // precomposed é
    ['cafe\u0301', 5],         // e + combining acute: two code points, one grapheme
    ['👩‍💻', 3],                // woman, ZWJ, laptop
    ['🇫🇷', 2],                // two regional indicators
    ['日本語', 3],
    ['a\nb\tc', 5],
  ];
  for (const [text, n] of cases) {
    assert.equal(textLength(text), n, JSON.stringify(text));
    assert.equal(textLength(text), serverLength(text), `same count as the server for ${JSON.stringify(text)}`);
  }
});

test('textLength: 4000 emoji are 4000 characters (the default limit), though .length says 8000', () => {
  const text = '😀'.repeat(4000);
  assert.equal(text.length, 8000);
  assert.equal(textLength(text), 4000);
  assert.equal(textLength(`${text}!`), 4001);
});

test('textLength: a lone surrogate (a cut emoji) counts as one, never as half', () => {
  assert.equal(textLength('\ud83d'), 1);
  assert.equal(textLength('x\ude00y'), 3);
});

test('initial: the first grapheme, upper-cased, of the trimmed name', () => {
  assert.equal(initial('ada'), 'A');
  assert.equal(initial('  bob  '), 'B');
  assert.equal(initial('Zoë'), 'Z');
  assert.equal(initial('élodie'), 'É');
  assert.equal(initial('e\u0301mile'), 'E\u0301', 'a combining accent stays with its letter');
  assert.equal(initial('łukasz'), 'Ł');
  assert.equal(initial('ωmega'), 'Ω');
  assert.equal(initial('日本'), '日');
  assert.equal(initial('42'), '4');
  assert.equal(initial('🦊fox'), '🦊');
  assert.equal(initial('👩‍💻dev'), '👩‍💻', 'a ZWJ sequence is one grapheme');
  assert.equal(initial('🇫🇷paris'), '🇫🇷', 'a flag is one grapheme');
  assert.equal(initial('👍🏽ok'), '👍🏽', 'an emoji with a skin tone is one grapheme');
});

test('initial: an empty or blank name gives "?"', () => {
  assert.equal(initial(''), '?');
  assert.equal(initial('   '), '?');
  assert.equal(initial('\u00a0\u3000'), '?', 'no-break and ideographic spaces are blank too');
});

const HUES = [4, 25, 45, 90, 140, 165, 188, 205, 285, 305, 325, 345];

test('hue is FNV-1a of the name into a fixed palette, so a name keeps its colour across releases', () => {
  // FNV-1a 32-bit: "" = 0x811c9dc5, "a" = 0xe40c292c, "foobar" = 0xbf9cf968 (published test vectors).
  assert.equal(hue(''), HUES[0x811c9dc5 % 12]);
  assert.equal(hue('a'), HUES[0xe40c292c % 12]);
  assert.equal(hue('foobar'), HUES[0xbf9cf968 % 12]);
  assert.equal(hue('ada'), hue('ada'));
  assert.equal(hue('ada'), 205);
  assert.equal(hue('bob'), 285);
});

test('hue: any name, including emoji and long ones, lands in the palette; 300 names use all of it', () => {
  const seen = new Set();
  for (let i = 0; i < 300; i++) {
    const h = hue(`user${i}`);
    assert.ok(HUES.includes(h), `hue ${h} for user${i}`);
    seen.add(h);
  }
  assert.equal(seen.size, HUES.length);
  for (const name of ['🦊', '👩‍💻', '\ud83d', 'x'.repeat(10000), 'Ada', 'ADA']) assert.ok(HUES.includes(hue(name)));
});

// --------------------------------------------------------------------- words

test('plural: singular only for exactly one', () => {
  assert.equal(plural(0, 'member', 'members'), '0 members');
  assert.equal(plural(1, 'member', 'members'), '1 member');
  assert.equal(plural(2, 'message', 'messages'), '2 messages');
  assert.equal(plural(1000, 'message', 'messages'), '1000 messages');
});

test('listNames: "", "a", "a and b", "a, b and c"', () => {
  assert.equal(listNames([]), '', 'was " and undefined"');
  assert.equal(listNames(['ada']), 'ada');
  assert.equal(listNames(['ada', 'bob']), 'ada and bob');
  assert.equal(listNames(['ada', 'bob', 'carol']), 'ada, bob and carol');
  assert.equal(listNames(['a', 'b', 'c', 'd']), 'a, b, c and d');
  assert.equal(listNames(['<b>x</b>', 'y']), '<b>x</b> and y', 'plain text; the caller puts it in textContent');
});

test('sameSender: by uid for accounts, by name for guests and messages without a uid', () => {
  const acct = { from: 'ada', uid: 'u_1' };
  assert.equal(sameSender(acct, { from: 'ada', uid: 'u_1' }), true);
  assert.equal(sameSender(acct, { from: 'ada', uid: 'u_2' }), false, 'two accounts that look alike');
  assert.equal(sameSender(acct, { from: 'ada', uid: 'g_00ff' }), false, 'a guest under the same name');
  assert.equal(sameSender({ from: 'bob', uid: 'g_aa' }, { from: 'bob', uid: 'g_bb' }), true, 'a guest reconnected');
  assert.equal(sameSender({ from: 'bob', uid: 'g_aa' }, { from: 'eve', uid: 'g_aa' }), false);
  assert.equal(sameSender(acct, { from: 'ada' }), true, 'stored before uids: by name');
  assert.equal(sameSender(acct, { from: 'bob' }), false);
  assert.equal(sameSender(acct, null), false);
});
