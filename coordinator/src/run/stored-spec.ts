/**
 * How a run's spec is kept in MongoDB: the wire `rest.v1.RunSpec` in its canonical proto3 JSON form,
 * with the seed drawn at creation written in. Storing the wire form (not the resolved domain spec)
 * keeps the document readable by any client of the contract and lets a newer coordinator resolve
 * defaults the same way on read; `parseRunSpec` is deterministic, so what a run uses never changes.
 */
import { randomBytes } from 'node:crypto';
import { runSpec as wire } from '@rest/proto';
import type { RunSpec } from './spec.js';
import { parseRunSpec } from '../rpc/run-spec.js';

/** The stored form of a run spec (proto3 JSON of `rest.v1.RunSpec`). */
export type StoredRunSpec = Readonly<Record<string, unknown>>;

/** A uniformly drawn 63-bit seed (it stays exact through JSON's string form of uint64). */
export function drawSeed(): bigint {
  return randomBytes(8).readBigUInt64BE() >> 1n;
}

/**
 * The spec to store: `spec` with a seed (the caller's, else a drawn one).
 * @throws InvalidArgumentError (via parseRunSpec) naming every bad field
 */
export function toStoredSpec(spec: wire.RunSpec, seed: () => bigint = drawSeed): StoredRunSpec {
  parseRunSpec(spec);
  const seeded: wire.RunSpec = { ...spec, seed: spec.seed ?? seed() };
  return wire.RunSpec.toJSON(seeded) as StoredRunSpec;
}

/** The wire spec of a stored one. */
export function wireSpecOf(stored: StoredRunSpec): wire.RunSpec {
  return wire.RunSpec.fromJSON(stored);
}

/** The resolved spec of a stored one (defaults applied as at creation). */
export function resolvedSpecOf(stored: StoredRunSpec): RunSpec & { readonly seed: bigint } {
  const spec = parseRunSpec(wireSpecOf(stored), 'run.spec');
  if (spec.seed === undefined) throw new Error('stored run spec has no seed');
  return spec as RunSpec & { readonly seed: bigint };
}
