import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bar, formatHistogram } from './format.js';

describe('inspect format', () => {
  it('bar: full cells plus an eighth block; any nonzero value shows; zero is empty', () => {
    assert.equal(bar(10, 10, 4), '████');
    assert.equal(bar(5, 10, 4), '██');
    assert.equal(bar(9, 32, 4), '█▏');
    assert.equal(bar(1, 1000, 4), '▏');
    assert.equal(bar(0, 10, 4), '');
  });

  it('formatHistogram: shows the first to the last nonempty bin and says what it left out', () => {
    const bins = [0, 0, 3, 0, 6, 0].map((count, i) => ({ from: i / 6, to: (i + 1) / 6, count }));
    const lines = formatHistogram(bins, '', 4);
    assert.deepEqual(lines, [
      '[0.333, 0.500)  ██    3',
      '[0.500, 0.667)        0',
      '[0.667, 0.833)  ████  6',
      '(empty bins not shown: 2 below 0.333, 1 above 0.833)',
    ]);
    assert.deepEqual(formatHistogram([{ from: 0, to: 1, count: 0 }], ''), ['(no values)']);
  });
});
