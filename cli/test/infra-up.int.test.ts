import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { MongoClient } from 'mongodb';
import { canConnect } from '@rest/testkit';

const MAIN = join(import.meta.dirname, '..', 'src', 'main.ts');

/** Starts `rest <args>` from source with NATS_URL / MONGODB_URI unset, collecting its stdout. */
function rest(args: readonly string[]) {
  const env = { ...process.env };
  delete env['NATS_URL'];
  delete env['MONGODB_URI'];
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', MAIN, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const waitFor = async (pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = out.match(pattern);
      if (m) return m;
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`rest ${args.join(' ')}: no ${pattern} in output:\n${out}`);
      }
      await Promise.race([once(child.stdout, 'data'), once(child, 'exit')]);
    }
  };
  return { child, output: () => out, waitFor };
}

test('rest infra up: serves NATS with the platform streams and MongoDB with its indexes until SIGINT', async () => {
  const proc = rest(['infra', 'up']);
  try {
    const [, natsUrl, mongoUri] = await proc.waitFor(/export NATS_URL=(\S+) MONGODB_URI=(\S+)/);
    await proc.waitFor(/Press Ctrl-C/);
    const nc = await connect({ servers: natsUrl! });
    try {
      const jsm = await jetstreamManager(nc);
      const names: string[] = [];
      for await (const s of jsm.streams.list()) names.push(s.config.name);
      for (const stream of [
        'REST_WORK_GROW',
        'REST_WORK_IMPROVE',
        'REST_WORK_EVAL',
        'REST_RUNS',
        'REST_DEAD_LETTER',
      ]) {
        assert.ok(names.includes(stream), `stream ${stream} missing from ${names.join(', ')}`);
      }
    } finally {
      await nc.close();
    }
    const client = new MongoClient(mongoUri!);
    try {
      const indexes = await client.db('rest').collection('samples').indexes();
      assert.ok(
        indexes.some((ix) => ix.unique === true && Object.keys(ix.key).join(',') === 'run,grow,idx,k'),
        `no unique (run, grow, idx, k) index on samples: ${JSON.stringify(indexes)}`,
      );
    } finally {
      await client.close();
    }
    const natsPort = Number(new URL(natsUrl!).port);
    proc.child.kill('SIGINT');
    const [code] = (await once(proc.child, 'exit')) as [number | null];
    assert.equal(code, 0, proc.output());
    assert.equal(await canConnect(natsPort), false, 'nats-server still listening after SIGINT');
  } finally {
    if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
  }
});

test('rest infra up --check: verifies and exits 0', async () => {
  const proc = rest(['infra', 'up', '--check']);
  const [code] = (await once(proc.child, 'exit')) as [number | null];
  assert.equal(code, 0, proc.output());
  assert.match(proc.output(), /check passed/);
});
