import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseBytes, parseDurationMs } from './units.js';

describe('units', () => {
  it('parseDurationMs: parses single and chained units to whole milliseconds', () => {
    assert.equal(parseDurationMs('500ms'), 500);
    assert.equal(parseDurationMs('30s'), 30_000);
    assert.equal(parseDurationMs('2m'), 120_000);
    assert.equal(parseDurationMs('1h'), 3_600_000);
    assert.equal(parseDurationMs('1m30s'), 90_000);
    assert.equal(parseDurationMs('1.5s'), 1_500);
    assert.equal(parseDurationMs(' 0s '), 0);
  });

  it('parseDurationMs: rejects bare numbers, unknown units and fractional milliseconds', () => {
    for (const bad of ['30', '', '5d', '1.5ms', 's', '-1s', '1s 2s']) {
      assert.throws(() => parseDurationMs(bad), RangeError, bad);
    }
  });

  it('parseBytes: parses binary and decimal units', () => {
    assert.equal(parseBytes('64MiB'), 64 * 1024 * 1024);
    assert.equal(parseBytes('512KiB'), 512 * 1024);
    assert.equal(parseBytes('1GiB'), 1024 ** 3);
    assert.equal(parseBytes('100MB'), 100_000_000);
    assert.equal(parseBytes('4096B'), 4096);
    assert.equal(parseBytes('1.5KiB'), 1536);
  });

  it('parseBytes: rejects missing or lower-case units and fractional bytes', () => {
    for (const bad of ['64', '64mb', '1.5B', 'MiB', '']) {
      assert.throws(() => parseBytes(bad), RangeError, bad);
    }
  });
});
