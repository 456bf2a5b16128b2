// The trainer service against real NATS + FerretDB: an Improve job on a tiny policy completes,
// registers its policy (bundle in GridFS) and publishes improve.progress, improve.completed and
// rest.policies.published; TrainerService reports it. Then the same job on a second run is killed
// with SIGKILL mid-way (a child process), a fresh trainer resumes it from its last checkpoint, and it
// ends at the same step count and tokens as the uninterrupted run.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import { workSubject, type EventReader, type UpdateRecord } from '@rest/bus';
import { events, trainer } from '@rest/proto';
import { readBundleManifest } from '@rest/runtime';
import { createLogger } from '@rest/service-kit';
import { loadConfig } from '../src/config.js';
import { downloadBundle } from '@rest/store';
import { JobRepo, type JobDoc } from '../src/jobs/job-repo.js';
import { startTrainerServer, type TrainerServer } from '../src/server.js';
import { improveWork, openHarness, seedRun, trainerEnv, until, type Harness } from './harness.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
// Long enough that the kill below lands mid-job: it fires at the first checkpoint (step 5).
const STEPS = 100;
const EVAL_EVERY = 25;

let h: Harness;
let uninterrupted: JobDoc | undefined;

before(async () => {
  h = await openHarness();
});
after(async () => {
  await h?.close();
});

function getJob(client: trainer.TrainerServiceClient, jobId: string): Promise<trainer.GetJobResponse> {
  return new Promise((resolve, reject) =>
    client.getJob({ jobId }, (err, res) => (err === null ? resolve(res) : reject(err))),
  );
}

function listJobs(client: trainer.TrainerServiceClient, runId: string): Promise<trainer.ListJobsResponse> {
  return new Promise((resolve, reject) =>
    client.listJobs(
      { runId, state: trainer.JobState.JOB_STATE_UNSPECIFIED, pageSize: 0, pageToken: '' },
      (err, res) => (err === null ? resolve(res) : reject(err)),
    ),
  );
}

async function collect<T>(
  reader: EventReader<T>,
  done: (items: T[]) => boolean,
  deadlineMs: number,
): Promise<T[]> {
  const items: T[] = [];
  const timer = setTimeout(() => void reader.stop(), deadlineMs);
  for await (const item of reader) {
    items.push(item);
    if (done(items)) break;
  }
  clearTimeout(timer);
  await reader.stop();
  return items;
}

describe('trainer service', () => {
  it(
    'Improve job: trains, stores the bundle, registers the policy, publishes events; TrainerService reports it',
    { timeout: 300_000 },
    async () => {
      const runId = 'run-a';
      const seeded = await seedRun(h, runId);
      assert.ok(seeded.numShards >= 2, `${seeded.numShards} shards`);
      const config = loadConfig({ env: trainerEnv(h, join(h.dir, 'work-a')), argv: [] });
      const server: TrainerServer = await startTrainerServer({
        config,
        logger: createLogger({ service: 'trainer', level: 'warn' }),
      });
      const client = new trainer.TrainerServiceClient(
        `127.0.0.1:${server.port}`,
        credentials.createInsecure(),
      );
      try {
        const policies = await h.bus.readUpdates('policies', events.PolicyPublished, 'new');
        const work = improveWork(h, runId, seeded, { maxSteps: STEPS, evalEvery: EVAL_EVERY });
        await h.bus.publishWork(workSubject('improve'), events.ImproveWork, work, { msgId: work.messageId });
        const runEvents = await collect(
          await h.bus.readRunEvents(runId, events.RunEvent),
          (items) => items.some((e) => e.event === 'improve.completed'),
          240_000,
        );
        const completed = runEvents.find((e) => e.event === 'improve.completed');
        assert.ok(completed, `improve.completed among ${runEvents.map((e) => e.event).join(', ')}`);
        const progress = runEvents.filter((e) => e.event === 'improve.progress');
        assert.ok(progress.length >= STEPS / 5, `${progress.length} improve.progress events`);
        assert.equal(
          new Set(progress.map((e) => e.msgId)).size,
          progress.length,
          'progress message ids are distinct',
        );
        const done = completed.message.event;
        assert.equal(done?.$case, 'improveCompleted');
        const c = done.$case === 'improveCompleted' ? done.improveCompleted : undefined;
        assert.equal(c?.outcome, events.ImproveOutcome.IMPROVE_OUTCOME_TRAINED);
        assert.equal(c?.steps, STEPS);
        assert.equal(c?.policyId, 'run-a.g1.i1');
        assert.ok(Number.isFinite(c?.metrics.valid_reward_mean), 'valid_reward_mean reported');

        const published = await collect(policies, (items) => items.length > 0, 30_000);
        assert.equal(
          (published[0] as UpdateRecord<events.PolicyPublished>).message.policy?.policyId,
          'run-a.g1.i1',
        );

        const policy = await h.store.policies.require('run-a.g1.i1');
        assert.equal(policy.parentId, h.basePolicyId);
        assert.equal(policy.run, runId);
        assert.deepEqual([policy.grow, policy.improve], [1, 1]);
        const bundleDir = await downloadBundle(h.store.bundles, policy.bundleId, join(h.dir, 'downloaded-a'));
        const manifest = await readBundleManifest(bundleDir);
        assert.equal(manifest.lineage.parentPolicyId, h.basePolicyId);
        assert.equal(manifest.hasTrainerState, true);
        const jobs = new JobRepo(h.store.db);
        const job = (await jobs.get('run-a-g1-i1'))!;
        assert.equal(job.state, 'succeeded');
        assert.equal(job.checkpoint, null, 'checkpoints are cleared');
        uninterrupted = job;
        const shard0 = await h.store.shards.get({ run: runId, grow: 1, improve: 1 }, 0);
        assert.ok(shard0?.completedAt instanceof Date, 'shards are completed');

        const got = await getJob(client, 'run-a-g1-i1');
        assert.equal(got.job?.state, trainer.JobState.JOB_STATE_SUCCEEDED);
        assert.equal(got.job?.outputPolicyId, 'run-a.g1.i1');
        assert.equal(got.job?.progress?.step, STEPS);
        const listed = await listJobs(client, runId);
        assert.deepEqual(
          listed.jobs.map((j) => j.jobId),
          ['run-a-g1-i1'],
        );
        await assert.rejects(getJob(client, 'nope'), (e: ServiceError) => e.code === status.NOT_FOUND);
        const watched: trainer.WatchJobResponse[] = [];
        await new Promise<void>((resolve, reject) => {
          const stream = client.watchJob({ jobId: 'run-a-g1-i1' });
          stream.on('data', (m: trainer.WatchJobResponse) => watched.push(m));
          stream.on('end', resolve);
          stream.on('error', reject);
        });
        assert.equal(watched.at(-1)?.progress?.state, trainer.JobState.JOB_STATE_SUCCEEDED);
      } finally {
        client.close();
        await server.shutdown('test done');
      }
    },
  );

  it(
    'kill -9 during a job: a fresh trainer resumes from the checkpoint and ends at the same step count',
    { timeout: 400_000 },
    async (t) => {
      assert.ok(uninterrupted, 'the uninterrupted run (previous test) completed');
      const runId = 'run-b';
      const seeded = await seedRun(h, runId);
      const env = { ...process.env, ...trainerEnv(h, join(h.dir, 'work-b')) };
      const children: ChildProcess[] = [];
      const output: string[] = [];
      const start = async (): Promise<ChildProcess> => {
        const child = spawn(
          process.execPath,
          ['--conditions=source', '--import', 'tsx', 'trainer/src/main.ts'],
          {
            cwd: REPO,
            env,
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        children.push(child);
        child.stderr.on('data', (b: Buffer) => output.push(b.toString('utf8')));
        const lines = createInterface({ input: child.stdout });
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`no serving line; output:\n${output.join('\n')}`)),
            60_000,
          );
          child.once('exit', (code) =>
            reject(new Error(`trainer exited (${code}); output:\n${output.join('\n')}`)),
          );
          lines.on('line', (line) => {
            output.push(line);
            if (line.includes('"msg":"serving"')) {
              clearTimeout(timer);
              resolve();
            }
          });
        });
        return child;
      };
      const jobs = new JobRepo(h.store.db);
      try {
        const first = await start();
        const work = improveWork(h, runId, seeded, { maxSteps: STEPS, evalEvery: EVAL_EVERY });
        await h.bus.publishWork(workSubject('improve'), events.ImproveWork, work, { msgId: work.messageId });
        const atKill = await until(
          async () => {
            const j = await jobs.get('run-b-g1-i1');
            return j?.checkpoint != null ? j : undefined;
          },
          240_000,
          'a first checkpoint',
          20,
        );
        first.kill('SIGKILL');
        await new Promise((resolve) => first.once('exit', resolve));
        const killed = (await jobs.get('run-b-g1-i1'))!;
        assert.equal(killed.state, 'running');
        assert.ok(killed.progress!.step < STEPS, `killed at step ${killed.progress!.step}, before ${STEPS}`);

        const second = await start();
        const done = await until(
          async () => {
            const j = await jobs.get('run-b-g1-i1');
            return j?.state === 'succeeded' || j?.state === 'failed' ? j : undefined;
          },
          300_000,
          'the resumed job to finish',
        );
        assert.equal(
          done.state,
          'succeeded',
          `job ${done.state}: ${done.error}; output:\n${output.join('\n')}`,
        );
        const resumed = output.filter((l) => l.includes('resuming at step'));
        assert.ok(resumed.length > 0, 'the second trainer resumed from a checkpoint');
        const at = Number(/resuming at step (\d+)/.exec(resumed[0]!)![1]);
        assert.ok(at >= atKill.checkpoint!.step && at < STEPS, `resumed at ${at}`);
        t.diagnostic(
          `killed at step ${killed.progress!.step} (checkpoint ${atKill.checkpoint!.step}), resumed at step ${at}`,
        );
        assert.equal(done.progress!.step, STEPS);
        assert.equal(
          done.progress!.step,
          uninterrupted.progress!.step,
          'same step count as the uninterrupted run',
        );
        assert.equal(
          done.progress!.tokensSeen,
          uninterrupted.progress!.tokensSeen,
          'same tokens as the uninterrupted run',
        );
        assert.equal(done.progress!.metrics.best_step, uninterrupted.progress!.metrics.best_step);
        const a = uninterrupted.progress!.metrics.valid_reward_mean!;
        const b = done.progress!.metrics.valid_reward_mean!;
        assert.ok(Math.abs(a - b) < 1e-9, `valid reward ${b} vs uninterrupted ${a}`);
        second.kill('SIGTERM');
        await new Promise((resolve) => second.once('exit', resolve));
      } finally {
        for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      }
    },
  );

  it(
    'rest train --run: trains on a run’s shards in the store, releases them, and leaves the run’s job alone',
    { timeout: 240_000 },
    async () => {
      const runId = 'run-c';
      await seedRun(h, runId);
      const out = join(h.dir, 'offline-c');
      const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
        (resolve, reject) => {
          const child = spawn(
            process.execPath,
            [
              '--conditions=source',
              '--import',
              'tsx',
              'cli/src/main.ts',
              'train',
              '--objective',
              'alol',
              '--policy',
              h.basePolicyId,
              '--run',
              runId,
              '--mongo-uri',
              h.infra.mongoUri,
              '--mongo-db',
              h.dbName,
              '--dataset',
              'toy',
              '--steps',
              '6',
              '--eval-every',
              '3',
              '--batch-tokens',
              '160',
              '--threads',
              '1',
              '--work-dir',
              join(h.dir, 'offline-work-c'),
              '--out',
              out,
            ],
            { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
          );
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
          child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
          child.once('error', reject);
          child.once('exit', (code) => resolve({ code, stdout, stderr }));
        },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /training units from \d+ candidates over \d+ sources/);
      assert.match(r.stdout, /6 steps/);
      const manifest = await readBundleManifest(out);
      assert.equal(manifest.lineage.runId, runId);
      assert.equal(manifest.lineage.producer, 'rest train');
      // The shards were released, not completed: the run's own trainer can still lease them.
      const scope = { run: runId, grow: 1, improve: 1 };
      const lease = await h.store.shards.leaseNext(scope, 'probe', 1000);
      assert.ok(lease !== null, 'a shard is free again');
      await h.store.shards.release(lease);
      assert.equal(await new JobRepo(h.store.db).get(`${runId}-g1-i1`), null, 'no service job was created');
    },
  );

  it(
    'a run cancelled mid-job: the job stops at its next heartbeat, ends cancelled, registers nothing, and its message is not redelivered',
    { timeout: 240_000 },
    async () => {
      const runId = 'run-d';
      const seeded = await seedRun(h, runId);
      await h.store.runs.create({}, runId);
      const config = loadConfig({ env: trainerEnv(h, join(h.dir, 'work-d')), argv: [] });
      const server = await startTrainerServer({
        config,
        logger: createLogger({ service: 'trainer', level: 'warn' }),
      });
      const jobs = new JobRepo(h.store.db);
      const jobId = `${runId}-g1-i1`;
      try {
        const work = improveWork(h, runId, seeded, { maxSteps: STEPS, evalEvery: EVAL_EVERY });
        await h.bus.publishWork(workSubject('improve'), events.ImproveWork, work, { msgId: work.messageId });
        // Running, with some steps done: then the run is cancelled under it.
        await until(
          async () => ((await jobs.get(jobId))?.progress?.step ?? 0) >= 5 || undefined,
          120_000,
          'the job to pass step 5',
        );
        await h.store.runs.transition(runId, { from: 'pending', to: 'cancelled' });
        const done = await until(
          async () => {
            const j = await jobs.get(jobId);
            return j?.state === 'cancelled' ? j : undefined;
          },
          60_000,
          'the job to end cancelled',
        );
        assert.match(done.error ?? '', /run run-d is cancelled/);
        assert.ok((done.progress?.step ?? 0) < STEPS, `stopped at step ${done.progress?.step} of ${STEPS}`);
        assert.equal(await h.store.policies.get(`${runId}.g1.i1`), null, 'no policy registered');
        // Acknowledged, not retried: after more than an ack wait the job is still cancelled, untouched.
        await new Promise((r) => setTimeout(r, 5_000));
        const later = (await jobs.get(jobId))!;
        assert.equal(later.state, 'cancelled');
        assert.deepEqual(later.finishedAt, done.finishedAt);
        // The shards are free again.
        const lease = await h.store.shards.leaseNext({ run: runId, grow: 1, improve: 1 }, 'probe', 1000);
        assert.ok(lease !== null, 'a shard is free again');
        await h.store.shards.release(lease);
      } finally {
        await server.shutdown('test done');
      }
    },
  );

  it('ListJobs: pages newest first with page tokens, filters by state', { timeout: 60_000 }, async () => {
    const config = loadConfig({ env: trainerEnv(h, join(h.dir, 'work-list')), argv: [] });
    const server = await startTrainerServer({
      config,
      logger: createLogger({ service: 'trainer', level: 'warn' }),
    });
    const client = new trainer.TrainerServiceClient(`127.0.0.1:${server.port}`, credentials.createInsecure());
    try {
      const page = (token: string): Promise<trainer.ListJobsResponse> =>
        new Promise((resolve, reject) =>
          client.listJobs(
            { runId: '', state: trainer.JobState.JOB_STATE_SUCCEEDED, pageSize: 1, pageToken: token },
            (err, res) => (err === null ? resolve(res) : reject(err)),
          ),
        );
      const first = await page('');
      assert.equal(first.jobs.length, 1);
      assert.notEqual(first.nextPageToken, '');
      const second = await page(first.nextPageToken);
      assert.equal(second.jobs.length, 1);
      assert.deepEqual([first.jobs[0]!.jobId, second.jobs[0]!.jobId], ['run-b-g1-i1', 'run-a-g1-i1']);
      assert.equal(second.nextPageToken, '', 'the last page');
    } finally {
      client.close();
      await server.shutdown('test done');
    }
  });
});
