import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml, formatNumber } from './html.js';

describe('report html', () => {
  it('escapeHtml: escapes markup and quotes in stored text', () => {
    assert.equal(
      escapeHtml(`<b a="1">Tom & 'Jerry'</b>`),
      '&lt;b a=&quot;1&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/b&gt;',
    );
  });

  it('formatNumber: integers as they are, 4 significant digits, exponents for tiny and huge values', () => {
    assert.equal(formatNumber(160), '160');
    assert.equal(formatNumber(0.591912), '0.5919');
    assert.equal(formatNumber(2.5e-5), '2.500e-5');
    assert.equal(formatNumber(undefined), '–');
    assert.equal(formatNumber(Number.NaN), '–');
  });
});
