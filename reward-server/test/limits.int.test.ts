/**
 * Queue limits, deadlines, cancellation and shutdown of a learned model's dynamic batching, against
 * a real server whose batches never fill and whose wait is a minute, so queued items stay queued
 * until a deadline, a cancel or the shutdown moves them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status, type ClientUnaryCall } from '@grpc/grpc-js';
import { reward } from '@rest/proto';
import { call, healthStatus, metricValue, startHarness, waitForMetrics, type Harness } from './harness.js';
import { buildTinyRewardModel } from './tiny-reward-model.js';

const { Normalization } = reward;

function request(n: number): reward.ScoreRequest {
  return {
    model: 'rm-queue',
    items: Array.from({ length: n }, (_, i) => ({
      source: `Ein Hund ${i}.`,
      hypothesis: `A dog ${i}.`,
      reference: '',
    })),
    normalization: Normalization.NORMALIZATION_RAW,
  };
}

function queued(text: string): number {
  return metricValue(text, 'reward_queued_items', { model: 'rm-queue' });
}

describe('learned-model queue limits (integration)', () => {
  let tmp: string;
  let h: Harness;
  let closed = false;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'reward-limits-'));
    await buildTinyRewardModel(tmp, { name: 'rm-queue' });
    h = await startHarness({
      REWARD_MODELS__DIRS: JSON.stringify([tmp]),
      REWARD_BATCHING__MAX_BATCH_ITEMS: '8',
      REWARD_BATCHING__MAX_WAIT_MS: '1m',
      REWARD_BATCHING__MAX_QUEUED_ITEMS: '3',
    });
  });

  after(async () => {
    if (!closed) await h.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it('RESOURCE_EXHAUSTED: a request larger than the queue, and one that finds the queue full', async () => {
    const tooBig = await call(h.rewards, 'score', request(4));
    assert.equal(tooBig.error?.code, status.RESOURCE_EXHAUSTED);
    assert.match(tooBig.error.details, /4 items are more than the queue holds \(3\)/);

    const waiting = call(h.rewards, 'score', request(2), { deadline: Date.now() + 1_500 });
    await waitForMetrics(h.server, (t) => queued(t) === 2, '2 queued items');
    const full = await call(h.rewards, 'score', request(2));
    assert.equal(full.error?.code, status.RESOURCE_EXHAUSTED);
    assert.match(full.error.details, /queue full \(2 of 3 items queued\)/);

    // The deadline takes the waiting request's items out of the queue.
    assert.equal((await waiting).error?.code, status.DEADLINE_EXCEEDED);
    await waitForMetrics(h.server, (t) => queued(t) === 0, 'an empty queue after the deadline');
    const text = await (await fetch(`http://127.0.0.1:${h.server.metricsPort}/metrics`)).text();
    assert.ok(
      metricValue(text, 'reward_errors_total', {
        model: 'rm-queue',
        api: 'score',
        code: 'RESOURCE_EXHAUSTED',
      }) >= 2,
    );
    assert.ok(
      metricValue(text, 'reward_errors_total', {
        model: 'rm-queue',
        api: 'score',
        code: 'DEADLINE_EXCEEDED',
      }) >= 1,
    );
  });

  it('cancellation: a cancelled call leaves the queue at once', async () => {
    let started: ClientUnaryCall | undefined;
    const cancelled = call(h.rewards, 'score', request(3), {}, (c) => (started = c));
    await waitForMetrics(h.server, (t) => queued(t) === 3, '3 queued items');
    started!.cancel();
    assert.equal((await cancelled).error?.code, status.CANCELLED);
    await waitForMetrics(h.server, (t) => queued(t) === 0, 'an empty queue after the cancel');
  });

  it('shutdown: queued items run at once instead of waiting out maxWaitMs, and their call answers OK', async () => {
    const pending = call(h.rewards, 'score', request(2));
    await waitForMetrics(h.server, (t) => queued(t) === 2, '2 queued items');
    const shutdown = h.close();
    closed = true;
    const { error, value } = await pending;
    assert.equal(error, null);
    assert.equal(value!.rawScores.length, 2);
    await shutdown;
    await assert.rejects(healthStatus(h.server.port, ''), 'the server is gone');
  });
});
