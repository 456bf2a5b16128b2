// `rest report` as a user runs it (the real CLI from source, in a child process) on a finished run that
// the fixture writes into a real FerretDB, then the HTML opened in headless Chromium (Debian's
// `chromium`, driven by playwright-core): no console or page error, no request leaves the page, every
// chart's <svg> has a size, and a screenshot of each chart holds colored marks.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { PNG } from 'pngjs';
import { openStore } from '@rest/store';
import { startFerretDb, type FerretDb } from '@rest/testkit';
import { writeRunFixture, type RunFixture } from './fixtures/run-fixture.js';

const MAIN = join(import.meta.dirname, '..', 'src', 'main.ts');
const CHROMIUM = '/usr/bin/chromium';
/** The charts the fixture run supports (G = 2), in page order. */
const CHART_IDS = [
  'chart-valid-reward',
  'chart-valid-metrics',
  'chart-grow-1-rewards',
  'chart-grow-2-rewards',
  'chart-kept',
  'chart-train-loss',
];
/** Pixels of a chart screenshot whose channels spread this much are "colored" (not white/grey/black). */
const COLOR_SPREAD = 60;

let db: FerretDb | undefined;
let fixture: RunFixture;
let dir = '';
let reportPath = '';
let reportRun: { code: number; stdout: string; stderr: string };

/** Runs `rest <args>` to completion with `env` over this process's environment (undefined unsets). */
async function rest(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const childEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', MAIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: childEnv,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const [code] = (await once(child, 'exit')) as [number];
  return { code, stdout, stderr };
}

/** Pixels of a PNG whose max − min channel exceeds {@link COLOR_SPREAD}. */
function coloredPixels(png: Buffer): number {
  const { data, width, height } = PNG.sync.read(png);
  let n = 0;
  for (let p = 0; p < width * height; p++) {
    const r = data[4 * p]!;
    const g = data[4 * p + 1]!;
    const b = data[4 * p + 2]!;
    if (Math.max(r, g, b) - Math.min(r, g, b) > COLOR_SPREAD) n++;
  }
  return n;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rest-report-'));
  db = await startFerretDb();
  fixture = await writeRunFixture(db.uri);
  reportPath = join(dir, 'report.html');
  reportRun = await rest(['report', fixture.runId, '--out', reportPath, '--mongo-uri', db.uri]);
});

after(async () => {
  await db?.stop();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

describe('rest report', () => {
  it('rest report: writes a self-contained page with every chart, threshold, kept count and metrics point', async () => {
    const { code, stdout, stderr } = reportRun;
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^rest report: wrote .*report\.html \(\d+ KiB, 6 charts, 6 example sources\)\n$/);
    const html = await readFile(reportPath, 'utf8');
    assert.doesNotMatch(html, /<script/i);
    // No resource to fetch: every src/href is a data URI or an in-page anchor.
    assert.deepEqual(html.match(/\b(?:src|href)="(?!data:|#)[^"]*"/g), null);
    const ids = [...html.matchAll(/<figure class="chart" id="([^"]+)">/g)].map((m) => m[1]);
    assert.deepEqual(ids, CHART_IDS);
    assert.match(html, /<span class="state completed">completed<\/span>/);
    assert.match(html, /<th>final policy<\/th><td>fixture-run\.g2\.i3<\/td>/);
    // Each Grow's histogram carries its Improve steps' thresholds as labelled rules.
    for (const [key, tau] of fixture.thresholds) {
      const [g, i] = key.split('/');
      const figure = html.slice(html.indexOf(`id="chart-grow-${g}-rewards"`)).split('</figure>')[0]!;
      assert.ok(
        figure.includes(`τ${i} = ${tau.toFixed(3)}`),
        `Grow ${g} histogram lacks τ${i} = ${tau.toFixed(3)}`,
      );
    }
    const kept = html.slice(html.indexOf('id="chart-kept"')).split('</figure>')[0]!;
    for (const [key, set] of fixture.kept)
      assert.ok(kept.includes(`>${set.size}</text>`), `no bar label for ${key}`);
    const store = await openStore({ uri: db!.uri, ensureIndexes: false });
    try {
      const points = await store.runs.metrics(fixture.runId);
      assert.equal(points.length, 28);
      for (const p of points) assert.ok(html.includes(`<td>${p.key}</td>`), `metrics table lacks ${p.key}`);
    } finally {
      await store.close();
    }
  });

  it('rest report: the page opens in headless Chromium without errors and every chart renders', async (t) => {
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} is missing: apt-get install chromium (scripts/install-deps.sh)`,
    );
    assert.equal(reportRun.code, 0, reportRun.stderr);
    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM });
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('request', (r) => {
        if (!r.url().startsWith('file:') && !r.url().startsWith('data:'))
          problems.push(`request: ${r.url()}`);
      });
      await page.goto(`file://${reportPath}`, { waitUntil: 'load' });
      for (const id of CHART_IDS) {
        const svg = page.locator(`figure#${id} > svg`);
        assert.equal(await svg.count(), 1, `${id}: no <svg>`);
        const box = await svg.boundingBox();
        assert.ok(
          box !== null && box.width > 100 && box.height > 100,
          `${id}: svg box ${JSON.stringify(box)}`,
        );
        const colored = coloredPixels(await svg.screenshot());
        t.diagnostic(
          `${id}: ${Math.round(box.width)}×${Math.round(box.height)} px, ${colored} colored pixels`,
        );
        assert.ok(colored > 300, `${id}: only ${colored} colored pixels, the chart looks blank`);
      }
      assert.deepEqual(problems, []);
    } finally {
      await browser?.close();
    }
  });

  it('rest report: an unknown run is an error naming it, exit 1', async () => {
    const { code, stdout, stderr } = await rest(['report', 'no-such-run', '--out', join(dir, 'x.html')], {
      MONGODB_URI: db!.uri,
    });
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.match(
      stderr,
      /^rest: run "no-such-run" not found in database "rest" \(runs there include: fixture-run\)\n$/,
    );
    assert.equal(existsSync(join(dir, 'x.html')), false);
  });

  it('rest report: without --mongo-uri or MONGODB_URI it says how to name the database, exit 1', async () => {
    const { code, stderr } = await rest(['report', fixture.runId], { MONGODB_URI: undefined });
    assert.equal(code, 1);
    assert.match(stderr, /^rest: no MongoDB to read the run from: pass --mongo-uri .* or set MONGODB_URI/);
  });
});
