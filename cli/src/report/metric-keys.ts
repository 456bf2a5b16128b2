/**
 * The keys of a run's metrics points (conventions: `g<g>/i<i>/eval`, `g<g>/grow/shard/<n>`,
 * `g<g>/grow`, `g<g>/i<i>/filter`, `g<g>/i<i>/train`, `test/eval`), parsed into a tagged union so
 * the report and the inspector never match key strings themselves. Unknown keys parse as `other`
 * and are still listed in the report's table.
 */

/** A parsed metrics key. */
export type MetricKey =
  | { readonly kind: 'eval'; readonly grow: number; readonly improve: number }
  | { readonly kind: 'test' }
  | { readonly kind: 'grow'; readonly grow: number }
  | { readonly kind: 'grow-shard'; readonly grow: number; readonly shard: number }
  | { readonly kind: 'filter'; readonly grow: number; readonly improve: number }
  | { readonly kind: 'train'; readonly grow: number; readonly improve: number }
  | { readonly kind: 'other' };

const STEP = /^g(\d+)\/i(\d+)\/(eval|filter|train)$/;
const GROW = /^g(\d+)\/grow$/;
const GROW_SHARD = /^g(\d+)\/grow\/shard\/(\d+)$/;

/** Parses one metrics key; never throws (unknown shapes are `other`). */
export function parseMetricKey(key: string): MetricKey {
  const step = STEP.exec(key);
  if (step !== null) {
    const kind = step[3] as 'eval' | 'filter' | 'train';
    return { kind, grow: Number(step[1]), improve: Number(step[2]) };
  }
  const grow = GROW.exec(key);
  if (grow !== null) return { kind: 'grow', grow: Number(grow[1]) };
  const shard = GROW_SHARD.exec(key);
  if (shard !== null) return { kind: 'grow-shard', grow: Number(shard[1]), shard: Number(shard[2]) };
  if (key === 'test/eval') return { kind: 'test' };
  return { kind: 'other' };
}

/** The label of a policy on the step axis: `base` for g0/i0, else `g<g>/i<i>`. */
export function stepLabel(grow: number, improve: number): string {
  return grow === 0 && improve === 0 ? 'base' : `g${grow}/i${improve}`;
}

/** Orders (grow, improve) pairs: by Grow, then by Improve step. */
export function compareSteps(
  a: { readonly grow: number; readonly improve: number },
  b: { readonly grow: number; readonly improve: number },
): number {
  return a.grow - b.grow || a.improve - b.improve;
}
