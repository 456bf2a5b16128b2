// `rest inspect` as a user runs it (the real CLI from source, in a child process, stdout a pipe, so no
// interactive browser) on a finished run that the fixture writes into a real FerretDB: the histograms
// count every sample, the Improve steps report the shards' thresholds and kept examples, `--source`
// lists the N candidates best first with kept marks that match the shards, and `--json` parses.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startFerretDb, type FerretDb } from '@rest/testkit';
import { defaultDataDir } from '../src/paths.js';
import { writeRunFixture, type RunFixture } from './fixtures/run-fixture.js';

const MAIN = join(import.meta.dirname, '..', 'src', 'main.ts');
/** A histogram line: `[from, to)  bar  count`. */
const BIN_LINE = /^ +\[(\d\.\d{3}), (\d\.\d{3})[)\]] {2}[█▏▎▍▌▋▊▉ ]* {2} *(\d+)$/;

let db: FerretDb | undefined;
let fixture: RunFixture;

async function rest(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', MAIN, ...args, '--mongo-uri', db!.uri],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const [code] = (await once(child, 'exit')) as [number];
  return { code, stdout, stderr };
}

/** The JSON document of `rest inspect --json` (the fields the test reads). */
interface InspectJson {
  rewardModel: string;
  grows: {
    grow: number;
    samples: number;
    scored: number;
    references: number;
    histogram: { from: number; to: number; count: number }[];
    improves: {
      improve: number;
      threshold: number;
      kept: number;
      keptReferences: number;
      histogram: { count: number }[];
    }[];
  }[];
  sources: {
    grow: number;
    idx: number;
    source: string;
    reference: { text: string; from: string; keptIn: number[] } | undefined;
    candidates: { k: number; reward: number; logProb: number; keptIn: number[] }[];
  }[];
}

/** Candidates of `idx` in Grow `g` best first, with the Improve steps that kept each, per the fixture. */
function expectedCandidates(g: number, idx: number): { k: number; reward: number; keptIn: number[] }[] {
  return fixture.samples
    .get(g)!
    .filter((s) => s.idx === idx)
    .sort((a, b) => b.reward - a.reward || a.k - b.k)
    .map((s) => ({
      k: s.k,
      reward: s.reward,
      keptIn: [1, 2, 3].filter((i) => fixture.kept.get(`${g}/${i}`)!.has(`${idx}/${s.k}`)),
    }));
}

before(async () => {
  db = await startFerretDb();
  fixture = await writeRunFixture(db.uri, { runId: 'inspect-run' });
});

after(async () => {
  await db?.stop();
});

describe('rest inspect', () => {
  it('rest inspect: histograms count every sample; Improve steps show τ and kept counts of the shards', async () => {
    const { code, stdout, stderr } = await rest(['inspect', fixture.runId, '--limit', '1']);
    assert.equal(code, 0, stderr);
    assert.match(
      stdout,
      /^run inspect-run · completed · at Grow 2, Improve 3 · policy inspect-run\.g2\.i3\n/,
    );
    assert.match(stdout, /\nreward chrf \(clipped01\) · G = 2 · I = 3 · N = 4 · fixed thresholds\n/);
    // Sum each histogram's bars under its heading.
    const sums = new Map<string, number>();
    let section = '';
    for (const line of stdout.split('\n')) {
      const grow = /^Grow (\d+): (\d+) samples of (\d+) sources/.exec(line);
      const step = /^ {2}Improve step (\d+): τ = (\d\.\d{3}) · kept (\d+) examples/.exec(line);
      const bin = BIN_LINE.exec(line);
      if (grow !== null) {
        section = `g${grow[1]}`;
        assert.equal(Number(grow[2]), fixture.samples.get(Number(grow[1]))!.length);
        assert.equal(Number(grow[3]), fixture.sources.length);
      } else if (step !== null) {
        const g = section.split('/')[0]!;
        section = `${g}/i${step[1]}`;
        const key = `${g.slice(1)}/${step[1]}`;
        assert.equal(step[2], fixture.thresholds.get(key)!.toFixed(3), `τ of ${key}`);
        assert.equal(Number(step[3]), fixture.kept.get(key)!.size, `kept of ${key}`);
      } else if (bin !== null) {
        sums.set(section, (sums.get(section) ?? 0) + Number(bin[3]));
      } else if (line.startsWith('sample browser')) {
        section = '';
      }
    }
    const expected = new Map<string, number>();
    for (let g = 1; g <= fixture.growSteps; g++) {
      expected.set(`g${g}`, fixture.samples.get(g)!.length);
      for (let i = 1; i <= fixture.improveSteps; i++)
        expected.set(`g${g}/i${i}`, fixture.kept.get(`${g}/${i}`)!.size);
    }
    assert.deepEqual(sums, expected);
    assert.match(stdout, /\nsample browser: the first 1 sources of each Grow step by index/);
    assert.match(stdout, /\nGrow 1 · source #0: /);
    assert.match(stdout, /\nGrow 2 · source #0: /);
  });

  it('rest inspect --source: the N candidates best first with kept marks matching the shards', async () => {
    const idx = 7;
    const { code, stdout, stderr } = await rest([
      'inspect',
      fixture.runId,
      '--source',
      String(idx),
      '--grow',
      '1',
    ]);
    assert.equal(code, 0, stderr);
    const reference = (await readFile(join(defaultDataDir(), 'train.en'), 'utf8')).split('\n')[idx]!;
    const block = stdout.slice(stdout.indexOf(`Grow 1 · source #${idx}: `));
    assert.ok(block.includes(`\n  reference: ${reference}  (reward 1.000, kept ✓ ✓ ✓)\n`), block);
    assert.doesNotMatch(stdout, /\nGrow 2 · source/);
    const rows = block
      .split('\n')
      .map((l) => /^ +(\d+) +(\d+) +(\d\.\d{3}) +(-\d+\.\d\d) {2}([✓·] [✓·] [✓·]) {2}/.exec(l))
      .filter((m) => m !== null);
    const want = expectedCandidates(1, idx);
    assert.equal(rows.length, fixture.samplesPerSource);
    rows.forEach((m, rank) => {
      assert.equal(Number(m[1]), rank + 1);
      assert.equal(Number(m[2]), want[rank]!.k, `rank ${rank + 1}`);
      assert.equal(m[3], want[rank]!.reward.toFixed(3));
      assert.equal(m[5], [1, 2, 3].map((i) => (want[rank]!.keptIn.includes(i) ? '✓' : '·')).join(' '));
    });
  });

  it('rest inspect --json: parses; histograms sum to the samples, kept sets and order match the shards', async () => {
    const { code, stdout, stderr } = await rest(['inspect', fixture.runId, '--json', '--source', '3']);
    assert.equal(code, 0, stderr);
    const doc = JSON.parse(stdout) as InspectJson;
    assert.equal(doc.rewardModel, 'chrf');
    assert.deepEqual(
      doc.grows.map((g) => g.grow),
      [1, 2],
    );
    for (const g of doc.grows) {
      assert.equal(g.samples, fixture.samples.get(g.grow)!.length);
      assert.equal(g.scored, g.samples);
      assert.equal(g.references, fixture.sources.length);
      assert.equal(
        g.histogram.reduce((a, b) => a + b.count, 0),
        g.samples,
      );
      assert.deepEqual(
        g.improves.map((i) => i.improve),
        [1, 2, 3],
      );
      for (const i of g.improves) {
        const key = `${g.grow}/${i.improve}`;
        assert.equal(i.threshold, fixture.thresholds.get(key));
        assert.equal(i.kept, fixture.kept.get(key)!.size);
        assert.equal(i.keptReferences, fixture.sources.length);
        assert.equal(
          i.histogram.reduce((a, b) => a + b.count, 0),
          i.kept,
        );
      }
    }
    assert.equal(doc.sources.length, 2);
    for (const s of doc.sources) {
      assert.equal(s.idx, 3);
      assert.equal(s.reference?.from, 'samples');
      assert.deepEqual(
        s.candidates.map((c) => ({ k: c.k, reward: c.reward, keptIn: c.keptIn })),
        expectedCandidates(s.grow, 3),
      );
    }
  });

  it('rest inspect --sort reward: sources by mean candidate reward, best first', async () => {
    const { code, stdout, stderr } = await rest([
      'inspect',
      fixture.runId,
      '--json',
      '--grow',
      '2',
      '--sort',
      'reward',
      '--limit',
      '3',
    ]);
    assert.equal(code, 0, stderr);
    const doc = JSON.parse(stdout) as InspectJson;
    const means = new Map<number, number[]>();
    for (const s of fixture.samples.get(2)!) means.set(s.idx, [...(means.get(s.idx) ?? []), s.reward]);
    const best = [...means]
      .map(([idx, rs]) => ({ idx, mean: rs.reduce((a, b) => a + b, 0) / rs.length }))
      .sort((a, b) => b.mean - a.mean || a.idx - b.idx)
      .slice(0, 3)
      .map((s) => s.idx);
    assert.deepEqual(
      doc.sources.map((s) => [s.grow, s.idx]),
      best.map((idx) => [2, idx]),
    );
    assert.deepEqual(
      doc.grows.map((g) => g.grow),
      [2],
    );
  });

  it('rest inspect: a Grow step, a source or an order that is not there is an error, exit 1', async () => {
    const [grow, source, sort] = await Promise.all([
      rest(['inspect', fixture.runId, '--grow', '3']),
      rest(['inspect', fixture.runId, '--source', '999']),
      rest(['inspect', fixture.runId, '--sort', 'length']),
    ]);
    assert.equal(grow.code, 1);
    assert.match(
      grow.stderr,
      /^rest: --grow 3: run inspect-run has no Grow step 3 \(steps with data: 1, 2\)\n$/,
    );
    assert.equal(source.code, 1);
    assert.match(
      source.stderr,
      /^rest: --source 999: no samples of that source in any Grow step of run inspect-run\n$/,
    );
    assert.equal(sort.code, 1);
    assert.match(sort.stderr, /^rest: --sort: must be idx or reward \(got length\)\n$/);
  });
});
