import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RouteTable, type Route } from './route.js';

function route(version: number, policyId: string): Route {
  return {
    alias: 'r',
    version,
    variants: [
      { name: 'a', policyId, weight: 1 },
      { name: 'off', policyId: 'unused', weight: 0 },
    ],
    shadow: { policyId: 'mirror', sampleRate: 0.1 },
    updatedAt: new Date(0),
  };
}

test('RouteTable: only a newer version replaces a route, whatever the arrival order', () => {
  const table = new RouteTable();
  assert.equal(table.apply(route(2, 'p2')), true);
  assert.equal(table.apply(route(1, 'p1')), false);
  assert.equal(table.apply(route(2, 'other')), false);
  assert.equal(table.get('r')?.variants[0]?.policyId, 'p2');
  assert.equal(table.apply(route(3, 'p3')), true);
  assert.deepEqual(
    table.list().map((r) => r.version),
    [3],
  );
});

test('RouteTable: referencedPolicies lists served and mirrored policies, not zero-weight ones', () => {
  const table = new RouteTable();
  table.apply(route(1, 'p1'));
  assert.deepEqual([...table.referencedPolicies()].sort(), ['mirror', 'p1']);
});
