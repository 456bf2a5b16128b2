import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { DeadlineExceededError, InvalidArgumentError, UnavailableError } from '../errors.js';
import { callOptions, outboundMetadata, withRetry } from './deadline.js';

const unavailable = (): Error =>
  Object.assign(new Error('connect ECONNREFUSED'), { code: status.UNAVAILABLE });

describe('callOptions', () => {
  it('callOptions: takes the earlier of maxMs and the parent deadline', () => {
    const now = Date.now();
    const near = callOptions({ deadline: new Date(now + 1_000) }, 60_000);
    assert.ok(near.deadline.getTime() <= now + 1_000 + 5);
    const capped = callOptions({ deadline: new Date(now + 60_000) }, 200);
    assert.ok(capped.deadline.getTime() - now <= 200 + 50);
    const none = callOptions({ deadline: undefined }, 300);
    assert.ok(none.deadline.getTime() - now <= 300 + 50);
  });

  it('callOptions: throws DeadlineExceededError when the parent deadline has passed', () => {
    assert.throws(() => callOptions({ deadline: new Date(Date.now() - 1) }, 1_000), DeadlineExceededError);
  });

  it('outboundMetadata: carries the request id', () => {
    assert.deepEqual(outboundMetadata({ requestId: 'abc' }).get('x-request-id'), ['abc']);
  });
});

describe('withRetry', () => {
  const fast = { baseDelayMs: 0, random: () => 0 };

  it('withRetry: retries UNAVAILABLE for idempotent calls, at most 3 attempts', async () => {
    let attempts = 0;
    await assert.rejects(
      withRetry(
        () => {
          attempts++;
          return Promise.reject(unavailable());
        },
        { idempotent: true, maxAttempts: 10, ...fast },
      ),
      /ECONNREFUSED/,
    );
    assert.equal(attempts, 3);
    const value = await withRetry(
      (attempt) =>
        attempt < 2 ? Promise.reject(new UnavailableError('peer down')) : Promise.resolve(attempt),
      { idempotent: true, ...fast },
    );
    assert.equal(value, 2);
  });

  it('withRetry: never retries non-idempotent calls or other codes', async () => {
    let attempts = 0;
    await assert.rejects(
      withRetry(
        () => {
          attempts++;
          return Promise.reject(unavailable());
        },
        { idempotent: false, ...fast },
      ),
    );
    assert.equal(attempts, 1);
    attempts = 0;
    await assert.rejects(
      withRetry(
        () => {
          attempts++;
          return Promise.reject(new InvalidArgumentError('x: bad'));
        },
        { idempotent: true, ...fast },
      ),
      InvalidArgumentError,
    );
    assert.equal(attempts, 1);
  });

  it('withRetry: stops when the parent deadline leaves no room for another attempt', async () => {
    let attempts = 0;
    const retries: number[] = [];
    await assert.rejects(
      withRetry(
        () => {
          attempts++;
          return Promise.reject(unavailable());
        },
        {
          idempotent: true,
          parent: { deadline: new Date(Date.now() + 20) },
          minAttemptMs: 50,
          onRetry: ({ attempt }) => retries.push(attempt),
          ...fast,
        },
      ),
    );
    assert.equal(attempts, 1);
    assert.deepEqual(retries, []);
  });

  it('withRetry: jitter stays under the exponential cap', async () => {
    const delays: number[] = [];
    await assert.rejects(
      withRetry(
        () => {
          return Promise.reject(unavailable());
        },
        {
          idempotent: true,
          baseDelayMs: 8,
          maxDelayMs: 10,
          random: () => 0.5,
          onRetry: ({ delayMs }) => delays.push(delayMs),
        },
      ),
    );
    assert.deepEqual(delays, [4, 5]);
  });
});
