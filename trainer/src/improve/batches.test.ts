import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Row, Unit } from './data.js';
import { batchRows, epochBatches, priorityBatch, rowFeeds } from './batches.js';

function row(sourceId: string, srcLen: number, tgtLen: number, reward = 0.5): Row {
  return {
    sourceId,
    src: Array.from({ length: srcLen }, (_, i) => 3 + i),
    tgt: Array.from({ length: tgtLen }, (_, i) => 10 + i),
    reward,
    baseline: 0.25,
    refSeqLogp: -2,
    refTokenLogp: Float64Array.from({ length: tgtLen }, () => -2 / tgtLen),
  };
}

function unit(r: Row, weight = 1): Unit {
  return { rows: [r], weight, length: Math.max(r.src.length, r.tgt.length) };
}

const UNITS: Unit[] = Array.from({ length: 40 }, (_, i) => unit(row(`s${i}`, 2 + (i % 7), 3 + (i % 5))));

test('epochBatches: every unit once per epoch, within the token budget, the same for the same (seed, epoch)', () => {
  const a = epochBatches(UNITS, 30, 7, 2);
  assert.deepEqual(a, epochBatches(UNITS, 30, 7, 2));
  assert.notDeepEqual(a, epochBatches(UNITS, 30, 7, 3));
  assert.deepEqual(
    a.flat().sort((x, y) => x - y),
    UNITS.map((_, i) => i),
  );
  for (const b of a) {
    const longest = Math.max(...b.map((i) => UNITS[i]!.length));
    assert.ok(b.length * longest <= 30, `batch of ${b.length} × ${longest}`);
  }
});

test('priorityBatch: draws ∝ weight, deterministic per (seed, step), uniform when every weight is 0', () => {
  const weighted = [unit(row('a', 2, 2), 1), unit(row('b', 2, 2), 3)];
  assert.deepEqual(priorityBatch(weighted, 8, 1, 5), priorityBatch(weighted, 8, 1, 5));
  let b = 0;
  let n = 0;
  for (let step = 1; step <= 500; step++)
    for (const i of priorityBatch(weighted, 8, 1, step)) {
      n++;
      if (i === 1) b++;
    }
  // 4 draws per batch (budget 8 / rows 1 × length 2); P(b) = 3/4.
  assert.equal(n, 2000);
  assert.ok(Math.abs(b / n - 0.75) < 0.04, `share of b ${b / n}`);
  const zero = [unit(row('a', 2, 2), 0), unit(row('b', 2, 2), 0)];
  const drawn = Array.from({ length: 200 }, (_, s) => priorityBatch(zero, 2, 1, s + 1)[0]!);
  assert.ok(drawn.includes(0) && drawn.includes(1));
});

test('batchRows: pair batches put every chosen row first, then the rejected rows in the same order', () => {
  const pairs: Unit[] = ['x', 'y', 'z'].map((s) => ({
    rows: [row(`${s}`, 2, 2, 0.9), row(`${s}`, 2, 3, 0.1)],
    weight: 0.8,
    length: 3,
  }));
  const rows = batchRows(pairs, [2, 0]);
  assert.deepEqual(
    rows.map((r) => [r.sourceId, r.reward]),
    [
      ['z', 0.9],
      ['x', 0.9],
      ['z', 0.1],
      ['x', 0.1],
    ],
  );
});

test('rowFeeds: shifted decoder input, mask of real tokens, per-row and per-token data', () => {
  const rows = [row('a', 3, 2, 0.7), row('b', 1, 4, 0.2)];
  const names = new Set([
    'token_logp',
    'mask',
    'reward',
    'baseline',
    'reference_seq_logp',
    'reference_logp',
    'value',
  ]);
  const { feeds, tokens } = rowFeeds(rows, names, 0, 0);
  assert.equal(tokens, 6);
  assert.deepEqual(feeds.src!.dims, [2, 3]);
  assert.deepEqual([...(feeds.tgt_out!.data as BigInt64Array)], [10n, 11n, 0n, 0n, 10n, 11n, 12n, 13n]);
  assert.deepEqual([...(feeds.tgt_in!.data as BigInt64Array)], [0n, 10n, 11n, 0n, 0n, 10n, 11n, 12n]);
  assert.deepEqual([...(feeds.mask!.data as Float32Array)], [1, 1, 0, 0, 1, 1, 1, 1]);
  assert.deepEqual(
    [...(feeds.reward!.data as Float32Array)].map((x) => +x.toFixed(6)),
    [0.7, 0.2],
  );
  assert.deepEqual([...(feeds.value!.data as Float32Array)], [0.25, 0.25, 0, 0, 0.25, 0.25, 0.25, 0.25]);
  assert.equal(feeds.token_logp, undefined);
  const missing = { ...rows[0]!, refTokenLogp: undefined };
  assert.throws(() => rowFeeds([missing], new Set(['reference_logp']), 0, 0), /not prepared/);
  // BVMPO's inputs come from the step graph, its parameters and the executor, not from the rows.
  const bvmpo = [
    'policy_logprobs',
    'behaviour_logprobs',
    'old_logprobs',
    'eta_raw',
    'alpha_raw',
    'kl_weight',
  ];
  assert.deepEqual(Object.keys(rowFeeds(rows, new Set(bvmpo), 0, 0).feeds).sort(), [
    'src',
    'tgt_in',
    'tgt_out',
  ]);
  assert.throws(() => rowFeeds(rows, new Set(['no_such_input']), 0, 0), /has no feed/);
});
