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
