import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { setImmediate } from 'node:timers/promises';
import { Metadata, status, type ServerWritableStream, type ServerUnaryCall } from '@grpc/grpc-js';
import { InvalidArgumentError, NotFoundError } from '../errors.js';
import { createMemoryLogger } from '../testing.js';
import { CallTracker } from './call-tracker.js';
import {
  FIELD_VIOLATIONS_KEY,
  outcomeOf,
  serverStream,
  unary,
  wrapServerStream,
  wrapUnary,
} from './handler.js';

/** Enough of a grpc-js server call for the wrapper: metadata, deadline, cancel, write/end with backpressure. */
class FakeCall extends EventEmitter {
  readonly metadata = new Metadata();
  cancelled = false;
  writable = true;
  readonly written: unknown[] = [];
  ended = false;
  constructor(readonly request: unknown) {
    super();
  }
  getDeadline(): number {
    return Infinity;
  }
  write(message: unknown): boolean {
    this.written.push(message);
    return this.writable;
  }
  end(): void {
    this.ended = true;
  }
}

function runtime() {
  return { logger: createMemoryLogger(), metrics: undefined, tracker: new CallTracker() };
}

describe('outcomeOf', () => {
  it('outcomeOf: known errors keep their code and message; InvalidArgument sends its violations', () => {
    const notFound = outcomeOf(new NotFoundError('policy "p1" not found'), 'r1');
    assert.equal(notFound.code, status.NOT_FOUND);
    assert.equal(notFound.details, 'policy "p1" not found');
    assert.equal(notFound.unexpected, undefined);
    const invalid = outcomeOf(
      InvalidArgumentError.fromViolations([{ field: 'R.n', problem: 'must be ≥ 1' }]),
      'r2',
    );
    const raw = invalid.metadata.get(FIELD_VIOLATIONS_KEY)[0];
    assert.ok(Buffer.isBuffer(raw));
    assert.deepEqual(JSON.parse(raw.toString('utf8')), [{ field: 'R.n', problem: 'must be ≥ 1' }]);
  });

  it('outcomeOf: anything else becomes INTERNAL with a ref and no message', () => {
    const outcome = outcomeOf(new TypeError('cannot read x of undefined'), 'ref-9');
    assert.equal(outcome.code, status.INTERNAL);
    assert.equal(outcome.details, 'internal error (ref ref-9)');
    assert.ok(outcome.unexpected instanceof TypeError);
    assert.deepEqual(outcome.metadata.get('x-request-id'), ['ref-9']);
  });
});

describe('wrapUnary', () => {
  it('wrapUnary: a synchronous throw is answered once as INTERNAL', async () => {
    const rt = runtime();
    const call = new FakeCall({});
    const answers: unknown[] = [];
    const handler = wrapUnary(
      unary(() => {
        throw new Error('sync boom');
      }),
      'p.S/M',
      rt,
    );
    handler(call as unknown as ServerUnaryCall<unknown, unknown>, (error) => answers.push(error));
    await rt.logger.waitFor((l) => l.message === 'rpc failed');
    assert.equal(answers.length, 1);
    assert.equal((answers[0] as { code: number }).code, status.INTERNAL);
    assert.equal(rt.tracker.inFlight, 0);
  });

  it('wrapUnary: refuses new calls with UNAVAILABLE once draining', () => {
    const rt = runtime();
    rt.tracker.stopAccepting('test');
    const answers: { code: number }[] = [];
    let called = false;
    const handler = wrapUnary(
      unary(() => {
        called = true;
        return Promise.resolve({});
      }),
      'p.S/M',
      rt,
    );
    handler(new FakeCall({}) as unknown as ServerUnaryCall<unknown, unknown>, (error) =>
      answers.push(error as { code: number }),
    );
    assert.equal(answers[0]?.code, status.UNAVAILABLE);
    assert.equal(called, false);
  });
});

describe('wrapServerStream', () => {
  it('wrapServerStream: pulls nothing more while the transport is full, resumes on drain', async () => {
    const rt = runtime();
    const call = new FakeCall({});
    call.writable = false;
    let pulled = 0;
    const handler = wrapServerStream(
      serverStream(async function* () {
        for (let n = 0; n < 3; n++) {
          pulled++;
          await setImmediate();
          yield n;
        }
      }),
      'p.S/Stream',
      rt,
    );
    handler(call as unknown as ServerWritableStream<unknown, unknown>);
    for (let i = 0; i < 20 && call.written.length === 0; i++) await setImmediate();
    for (let i = 0; i < 20; i++) await setImmediate();
    assert.deepEqual(call.written, [0]);
    assert.equal(pulled, 1);
    call.writable = true;
    call.emit('drain');
    await rt.logger.waitFor((l) => l.message === 'rpc finished');
    assert.deepEqual(call.written, [0, 1, 2]);
    assert.ok(call.ended);
  });

  it('wrapServerStream: an error mid-stream is sent as the status and runs the generator finally', async () => {
    const rt = runtime();
    const call = new FakeCall({});
    const errors: { code: number; details: string }[] = [];
    call.on('error', (error: { code: number; details: string }) => errors.push(error));
    let cleaned = false;
    const handler = wrapServerStream(
      serverStream(async function* () {
        try {
          yield 1;
          await setImmediate();
          throw new NotFoundError('run "r1" not found');
        } finally {
          cleaned = true;
        }
      }),
      'p.S/Stream',
      rt,
    );
    handler(call as unknown as ServerWritableStream<unknown, unknown>);
    await rt.logger.waitFor((l) => l.message === 'rpc finished');
    assert.deepEqual(
      errors.map((e) => [e.code, e.details]),
      [[status.NOT_FOUND, 'run "r1" not found']],
    );
    assert.ok(cleaned);
    assert.equal(call.ended, false);
  });
});
