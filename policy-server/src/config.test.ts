import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONFIG } from './config.js';

test('policy-server CONFIG: loads with defaults alone', () => {
  const config = CONFIG.load({ env: {} });
  assert.equal(config.grpc.port, 50051);
  assert.equal(config.grpc.drainTimeoutMs, 20_000);
  assert.equal(config.mongoDb, 'rest');
});

test('policy-server CONFIG: env overrides nested keys and rejects unknown POLICY_* vars', () => {
  assert.equal(CONFIG.load({ env: { POLICY_GRPC__PORT: '0' } }).grpc.port, 0);
  assert.throws(() => CONFIG.load({ env: { POLICY_NO_SUCH_KEY: 'x' } }), /POLICY_NO_SUCH_KEY/);
});

test('policy-server CONFIG: policy folders and preloads from JSON env arrays; durations and sizes parsed', () => {
  const config = CONFIG.load({
    env: {
      POLICY_POLICIES__DIRS: '["/models/a", "/models/b"]',
      POLICY_POLICIES__PRELOAD: '["a"]',
      POLICY_POLICIES__MEMORY_BUDGET_BYTES: '512MiB',
      POLICY_BATCHING__MAX_WAIT_MS: '2ms',
    },
  });
  assert.deepEqual(config.policies.dirs, ['/models/a', '/models/b']);
  assert.deepEqual(config.policies.preload, ['a']);
  assert.equal(config.policies.memoryBudgetBytes, 512 * 1024 * 1024);
  assert.equal(config.batching.maxWaitMs, 2);
  assert.equal(config.batching.rejoinWaitMs, 20);
  assert.equal(config.routing.defaultRoute, 'default');
  assert.throws(() => CONFIG.load({ env: { POLICY_LIMITS__MAX_SOURCES: '0' } }), /limits\.maxSources/);
});

test('policy-server CONFIG: the heap growing factor defaults to 100%, 0 keeps V8’s, a negative one is refused', () => {
  assert.equal(CONFIG.load({ env: {} }).runtime.heapGrowingPercent, 100);
  assert.equal(
    CONFIG.load({ env: { POLICY_RUNTIME__HEAP_GROWING_PERCENT: '0' } }).runtime.heapGrowingPercent,
    0,
  );
  assert.throws(
    () => CONFIG.load({ env: { POLICY_RUNTIME__HEAP_GROWING_PERCENT: '-5' } }),
    /runtime\.heapGrowingPercent/,
  );
});
