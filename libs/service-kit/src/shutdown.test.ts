import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { NOOP_LOGGER } from './logger.js';
import { installSignalHandlers } from './shutdown.js';

describe('installSignalHandlers', () => {
  it('installSignalHandlers: SIGTERM runs every step once, in order, and resolves exit code 0', async () => {
    const source = new EventEmitter();
    const order: string[] = [];
    const handlers = installSignalHandlers({
      logger: NOOP_LOGGER,
      source,
      shutdown: [
        (reason) => Promise.resolve(void order.push(`grpc:${reason}`)),
        () => Promise.resolve(void order.push('bus')),
      ],
    });
    try {
      source.emit('SIGTERM');
      handlers.trigger('again');
      assert.equal(await handlers.exitCode, 0);
      assert.deepEqual(order, ['grpc:SIGTERM', 'bus']);
    } finally {
      handlers.uninstall();
    }
    assert.equal(source.listenerCount('SIGTERM'), 0);
  });

  it('installSignalHandlers: a failing step still lets the others run and gives exit code 1', async () => {
    const source = new EventEmitter();
    let ran = false;
    const handlers = installSignalHandlers({
      logger: NOOP_LOGGER,
      source,
      shutdown: [() => Promise.reject(new Error('boom')), () => Promise.resolve(void (ran = true))],
    });
    try {
      source.emit('SIGINT');
      assert.equal(await handlers.exitCode, 1);
      assert.ok(ran);
    } finally {
      handlers.uninstall();
    }
  });

  it('installSignalHandlers: a second signal during shutdown resolves exit code 1 at once', async () => {
    const source = new EventEmitter();
    const handlers = installSignalHandlers({
      logger: NOOP_LOGGER,
      source,
      shutdown: [() => new Promise<void>(() => {})],
    });
    try {
      source.emit('SIGTERM');
      source.emit('SIGTERM');
      assert.equal(await handlers.exitCode, 1);
    } finally {
      handlers.uninstall();
    }
  });
});
