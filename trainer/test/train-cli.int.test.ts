// `rest train` as a user runs it: the CLI process on a shard file (JSON Lines of scored candidates),
// with a tiny policy and toy validation files. It trains, validates, writes a loadable bundle, resumes
// when rerun with the same work folder, and rejects a malformed shard file naming the line.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readBundleManifest, Seq2SeqModel } from '@rest/runtime';
import { formatShardFile } from '../src/offline/shard-file.js';
import { tinyPolicy, toyCandidates, toyCorpus, toyValid } from '../src/testing.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

let dir = '';
let policy = '';

function rest(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', 'cli/src/main.ts', ...args],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rest-train-cli-'));
  policy = await tinyPolicy(join(dir, 'policy'));
  const candidates = toyCandidates(toyCorpus(24, 5), 4, 7, true);
  await writeFile(
    join(dir, 'shard.jsonl'),
    formatShardFile(
      candidates.map((c) => ({
        source: c.source,
        hypothesis: c.text,
        reward: c.reward,
        sourceId: c.sourceId,
        ...(c.isReference ? { isReference: true } : {}),
      })),
    ),
  );
  const valid = toyValid(6, 3);
  await writeFile(join(dir, 'valid.src'), valid.map((v) => v.source).join('\n') + '\n');
  await writeFile(join(dir, 'valid.ref'), valid.map((v) => v.reference).join('\n') + '\n');
});

after(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

const trainArgs = (objective: string, steps: number): string[] => [
  'train',
  '--objective',
  objective,
  '--policy',
  policy,
  '--shards',
  join(dir, 'shard.jsonl'),
  '--threshold',
  '0.5',
  '--valid-src',
  join(dir, 'valid.src'),
  '--valid-ref',
  join(dir, 'valid.ref'),
  '--steps',
  String(steps),
  '--eval-every',
  '4',
  '--lr',
  '3e-3',
  '--batch-tokens',
  '160',
  '--dropout',
  '0',
  '--threads',
  '1',
  '--work-dir',
  join(dir, `work-${objective}`),
  '--out',
  join(dir, `out-${objective}`),
];

describe('rest train', () => {
  it(
    'rest train: trains on a shard file, validates, writes a loadable bundle, and resumes when rerun',
    { timeout: 240_000 },
    async () => {
      const first = await rest(trainArgs('bc', 8));
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stderr, /training units from \d+ candidates/);
      assert.match(first.stdout, /^step\tvalid reward\tvalid BLEU\ttrain loss$/m);
      assert.match(first.stdout, /^8\t/m, 'a validation at the last step');
      assert.match(first.stdout, /8 steps, \d+ training tokens\/s; bundle: /);
      const manifest = await readBundleManifest(join(dir, 'out-bc'));
      assert.equal(manifest.lineage.producer, 'rest train');
      assert.ok(manifest.hasTrainerState);
      const { model } = await Seq2SeqModel.load(join(dir, 'out-bc'));
      await model.release();

      // Same command, same work folder: it picks up the last checkpoint instead of starting over.
      const second = await rest(trainArgs('bc', 8));
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stderr, /resuming at step 8 of 8/);
      assert.match(second.stdout, /8 steps/);

      // Another step budget is another job: its checkpoint is not reused.
      const third = await rest(trainArgs('bc', 4));
      assert.equal(third.code, 0, third.stderr);
      assert.match(third.stderr, /ignoring a checkpoint of another job/);
    },
  );

  it('rest train: dpo builds pairs from the shard file and trains', { timeout: 240_000 }, async () => {
    const r = await rest(trainArgs('dpo', 4));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /training units .* scored by the reference policy/);
  });

  it('rest train: a malformed shard file fails naming its line and field', { timeout: 120_000 }, async () => {
    await writeFile(
      join(dir, 'bad.jsonl'),
      '{"source":"a","hypothesis":"b","reward":0.5}\n{"source":"a","reward":"x"}\n',
    );
    const args = trainArgs('bc', 2);
    args[args.indexOf('--shards') + 1] = join(dir, 'bad.jsonl');
    const r = await rest(args);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad\.jsonl:2\.hypothesis/);
    assert.match(r.stderr, /bad\.jsonl:2\.reward/);
  });
});
