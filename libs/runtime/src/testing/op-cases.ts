/**
 * Runs a table of gradient-check cases as node:test tests (test helper). Each case reports its max
 * relative error as a test diagnostic and fails above the tolerance.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Graph, Tensor } from '../graph/graph.js';
import type { HostTensor } from '../session/session.js';
import { gradCheck, OP_GRAD_TOLERANCE, type GradCheckOptions } from './gradient-check.js';

/** One gradient-check case: a name, its inputs and the function under test. */
export type GradCase = [
  name: string,
  inputs: Record<string, HostTensor>,
  fn: (xs: Record<string, Tensor>, g: Graph) => Tensor,
  opts?: GradCheckOptions,
];

/** Registers one test per case under `<unit> gradient: <name>`. */
export function gradCases(unit: string, cases: readonly GradCase[]): void {
  for (const [name, inputs, fn, opts] of cases) {
    void test(`${unit} gradient: ${name}`, async (t) => {
      const res = await gradCheck(inputs, fn, opts);
      t.diagnostic(`max rel error ${res.maxRelError.toExponential(2)}`);
      assert.ok(res.maxRelError <= OP_GRAD_TOLERANCE, JSON.stringify(res.perInput));
    });
  }
}
