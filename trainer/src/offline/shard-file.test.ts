import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '@rest/service-kit';
import { formatShardFile, parseShardFile, shardCandidates } from './shard-file.js';

const TEXT = formatShardFile([
  { source: 'ein hund', hypothesis: 'a dog', reward: 0.9 },
  {
    source: 'ein hund',
    hypothesis: 'dog',
    reward: 0.4,
    tokenIds: [5, 1],
    behaviourLogProb: -2,
    tokenLogProbs: [-1.5, -0.5],
  },
  { source: 'eine katze', hypothesis: 'a cat', reward: 1, sourceId: 'c', isReference: true },
]);

test('parseShardFile + shardCandidates: sources group by sourceId or text; threshold is strict; behaviour fields kept', () => {
  const lines = parseShardFile(TEXT + '\n\n');
  assert.equal(lines.length, 3);
  const { train, all } = shardCandidates(lines, { threshold: 0.9, behaviourIsReference: true });
  assert.deepEqual(
    all.map((c) => [c.key, c.sourceId, c.isReference]),
    [
      ['0', 'ein hund', false],
      ['1', 'ein hund', false],
      ['2', 'c', true],
    ],
  );
  assert.deepEqual(
    train.map((c) => c.key),
    ['2'],
  );
  assert.deepEqual(all[1]!.tokenIds, [5, 1]);
  assert.deepEqual(all[1]!.behaviourTokenLogProbs, [-1.5, -0.5]);
  assert.equal(all[1]!.behaviourIsReference, true);
  assert.equal(shardCandidates(lines).train.length, 3);
});

test('parseShardFile: names the line and field of every problem', () => {
  const text = [
    '{"source":"a","hypothesis":"b","reward":0.5}',
    'not json',
    '{"source":"a","hypothesis":"b","reward":"high","extra":1}',
    '{"source":"a","hypothesis":"b","reward":0.1,"tokenLogProbs":[-1]}',
  ].join('\n');
  assert.throws(
    () => parseShardFile(text, 's.jsonl'),
    (e: unknown) => {
      assert.ok(e instanceof InvalidArgumentError);
      const fields = e.violations.map((v) => v.field);
      assert.deepEqual(fields, [
        's.jsonl:2',
        's.jsonl:3.reward',
        's.jsonl:3.extra',
        's.jsonl:4.tokenLogProbs',
      ]);
      return true;
    },
  );
  assert.throws(() => parseShardFile('\n', 'e.jsonl'), /e\.jsonl: holds no candidates/);
});
