import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServerMetrics } from './metrics.js';

describe('createServerMetrics', () => {
  it('createServerMetrics: each server gets its own registry with rpc and code labels', async () => {
    const a = createServerMetrics({ labels: { service: 'a' } });
    const b = createServerMetrics({ labels: { service: 'b' }, defaultMetrics: false });
    a.observe('pkg.Svc/Do', 'OK', 12);
    a.observe('pkg.Svc/Do', 'INVALID_ARGUMENT', 1);
    const text = await a.registry.metrics();
    assert.match(text, /grpc_server_handled_total\{rpc="pkg.Svc\/Do",code="OK",service="a"\} 1/);
    assert.match(
      text,
      /grpc_server_handling_seconds_bucket\{le="0.025",service="a",rpc="pkg.Svc\/Do",code="OK"\} 1/,
    );
    assert.match(text, /process_cpu_user_seconds_total/);
    const other = await b.registry.metrics();
    assert.doesNotMatch(other, /code="OK"/);
    assert.doesNotMatch(other, /process_cpu/);
  });
});
