import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMetricScorers } from '../scoring/metric-scorers.js';
import type { RewardScorer, ScoreItem, ScorerInfo } from '../scoring/types.js';
import { formatInspectTable, inspectReward } from './inspect.js';
import { applyProbe, words } from './probes.js';

const ITEMS: ScoreItem[] = [
  ['Zwei junge Männer spielen Fußball.', 'Two young men are playing soccer.'],
  ['Ein Hund läuft durch den Schnee.', 'A dog runs through the snow.'],
  ['Eine Frau liest ein Buch im Park.', 'A woman reads a book in the park.'],
  ['Kinder spielen am Strand.', 'Children are playing on the beach.'],
  ['Ein Mann fährt Fahrrad.', 'A man is riding a bike.'],
].map(([source, reference]) => ({ source: source!, hypothesis: reference!, reference }));

/** A scorer whose raw score is the number of words of the hypothesis: repetition pays. */
function wordCountScorer(): RewardScorer {
  const info: ScorerInfo = {
    name: 'word-count',
    kind: 'learned',
    version: 'test',
    description: 'words in the hypothesis',
    requiresReference: false,
    higherIsBetter: true,
    rawMin: 0,
    rawMax: 100,
    calibration: { mean: 0, std: 1, origin: 'test' },
  };
  return {
    info,
    queuedItems: 0,
    prepare: (items) => ({
      problems: items.flatMap((item, index) =>
        item.source.startsWith('UNSCORABLE') ? [{ index, field: 'source' as const, problem: 'test' }] : [],
      ),
      score: () => Promise.resolve(items.map((item) => words(item.hypothesis).length)),
    }),
    close: () => Promise.resolve(),
  };
}

async function metric(name: string): Promise<RewardScorer> {
  const scorer = (await createMetricScorers()).find((s) => s.info.name === name);
  assert.ok(scorer);
  return scorer;
}

describe('inspect-reward', () => {
  it('applyProbe: repeated, truncated (first ⌊n/2⌋ words), seeded permutation, source copy', () => {
    const item = { source: 'Ein Hund läuft.', hypothesis: 'A dog runs through the snow.' };
    assert.equal(applyProbe('repeated', item, 0), `${item.hypothesis} ${item.hypothesis}`);
    assert.equal(applyProbe('truncated', item, 0), 'A dog runs');
    assert.equal(applyProbe('truncated', { ...item, hypothesis: 'One' }, 0), '');
    assert.equal(applyProbe('source-copied', item, 0), item.source);
    const permuted = applyProbe('permuted', item, 0, 7);
    assert.notEqual(permuted, item.hypothesis);
    assert.deepEqual(words(permuted).sort(), words(item.hypothesis).sort());
    assert.equal(applyProbe('permuted', item, 0, 7), permuted, 'same seed and index, same order');
    assert.equal(applyProbe('permuted', { ...item, hypothesis: 'a a' }, 0), 'a a');
  });

  it('inspectReward: chrF — no probe outscores the references', async () => {
    const report = await inspectReward(await metric('chrf'), ITEMS);
    assert.equal(report.items, ITEMS.length);
    assert.equal(report.meanOriginal, 100);
    assert.deepEqual(report.failing, []);
    for (const row of report.rows) {
      assert.equal(row.items, ITEMS.length);
      assert.ok(row.meanDelta < 0, `${row.probe}: Δ ${row.meanDelta}`);
      assert.equal(row.outscoredFraction, 0);
    }
    const table = formatInspectTable(report);
    assert.match(table, /^reward model "chrf" \(metric, nrefs:1\|/);
    assert.match(table, /\nrepeated +5 +\d+\.\d\d +-\d+\.\d\d +0\.0 %\n/);
    assert.match(table, /OK: no probe outscores the original on average$/);
  });

  it('inspectReward: TER (lower is better) — orientation is the scorer’s', async () => {
    const report = await inspectReward(await metric('ter'), ITEMS);
    assert.equal(report.meanOriginal, 0);
    assert.deepEqual(report.failing, []);
    for (const row of report.rows) assert.ok(row.meanDelta > 0, `${row.probe}: TER rises`);
  });

  it('inspectReward: a scorer that rewards length fails on repetition; unscorable items are left out', async () => {
    const items = [...ITEMS, { source: 'UNSCORABLE', hypothesis: 'x', reference: undefined }];
    const report = await inspectReward(wordCountScorer(), items);
    assert.equal(report.items, ITEMS.length);
    assert.equal(report.dropped, 1);
    assert.deepEqual(report.failing, ['repeated']);
    const repeated = report.rows.find((r) => r.probe === 'repeated')!;
    assert.equal(repeated.meanDelta, repeated.meanOriginal);
    assert.equal(repeated.outscoredFraction, 1);
    const permuted = report.rows.find((r) => r.probe === 'permuted')!;
    assert.equal(permuted.meanDelta, 0, 'a permutation keeps the word count');
    assert.equal(permuted.failed, false, 'a tie is not a win');
    const table = formatInspectTable(report);
    assert.match(table, /1 left out \(item 6 source: test\)/);
    assert.match(table, /\nrepeated +5 +\d+\.\d\d +\+\d+\.\d\d +100\.0 %\n/);
    assert.match(table, /FAIL: repeated outscores the original on average$/);
  });

  it('inspectReward: RangeError when nothing can be scored', async () => {
    const items = [{ source: 'UNSCORABLE', hypothesis: 'x', reference: undefined }];
    await assert.rejects(inspectReward(wordCountScorer(), items), /no item could be scored/);
  });
});
