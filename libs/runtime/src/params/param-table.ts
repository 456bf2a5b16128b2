/**
 * The one ordered parameter table `{name, shape, init}` from which everything about a model's
 * parameters derives: element counts, offsets into one flat buffer, per-parameter views, graph inputs
 * and deterministic initial values. No second list of parameters is ever kept by hand.
 */
import type { Graph, Tensor } from '../graph/graph.js';
import { rng } from './random.js';

/** How a parameter starts. */
export type Init =
  { kind: 'zeros' } | { kind: 'ones' } | { kind: 'normal'; std: number } | { kind: 'uniform'; limit: number };

/** One row of the table. */
export interface ParamSpec {
  name: string;
  shape: readonly number[];
  init: Init;
  /** Whether AdamW's weight decay applies. @default true for rank ≥ 2, false otherwise */
  decay?: boolean;
}

/** A row with its derived layout. */
export interface ParamEntry extends ParamSpec {
  /** Element count. */
  size: number;
  /** Element offset in the flat buffer. */
  offset: number;
  decay: boolean;
}

/** A float buffer for parameters (or optimizer state) in the table's layout. */
export type FlatBuffer = Float32Array | Float64Array;

/** Thrown for duplicate names or invalid shapes. */
export class ParamTableError extends Error {
  override name = 'ParamTableError';
}

/** The ordered table. */
export class ParamTable {
  readonly entries: readonly ParamEntry[];
  /** Total element count. */
  readonly size: number;
  private readonly byName: Map<string, ParamEntry>;

  /** Throws ParamTableError on a duplicate name or a non-positive dim. */
  constructor(specs: readonly ParamSpec[]) {
    let offset = 0;
    this.byName = new Map();
    this.entries = specs.map((s) => {
      if (this.byName.has(s.name)) throw new ParamTableError(`duplicate parameter ${s.name}`);
      if (s.shape.some((d) => !Number.isInteger(d) || d <= 0))
        throw new ParamTableError(`${s.name}: bad shape [${s.shape.join(', ')}]`);
      const size = s.shape.reduce((a, b) => a * b, 1);
      const e: ParamEntry = { ...s, size, offset, decay: s.decay ?? s.shape.length >= 2 };
      offset += size;
      this.byName.set(s.name, e);
      return e;
    });
    this.size = offset;
  }

  /** The entry for `name`; throws ParamTableError when unknown. */
  get(name: string): ParamEntry {
    const e = this.byName.get(name);
    if (e === undefined) throw new ParamTableError(`unknown parameter ${name}`);
    return e;
  }

  /** Per-parameter views (no copies) into a flat buffer. */
  views<B extends FlatBuffer>(buffer: B): Map<string, B> {
    if (buffer.length !== this.size)
      throw new ParamTableError(`buffer has ${buffer.length} elements, table needs ${this.size}`);
    return new Map(this.entries.map((e) => [e.name, buffer.subarray(e.offset, e.offset + e.size) as B]));
  }

  /** Declares one graph input per parameter, named `<prefix><name>`. */
  inputs(g: Graph, dtype: 'f32' | 'f64', prefix = ''): Map<string, Tensor> {
    return new Map(this.entries.map((e) => [e.name, g.input(`${prefix}${e.name}`, dtype, e.shape)]));
  }

  /** Deterministic initial values (same seed, same numbers, in f64 then rounded to the buffer type). */
  initialize<B extends FlatBuffer>(buffer: B, seed: number): B {
    const rand = rng(seed);
    const gauss = (): number => {
      const u = Math.max(rand(), 1e-300);
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
    };
    for (const e of this.entries) {
      const v = buffer.subarray(e.offset, e.offset + e.size);
      const init = e.init;
      for (let i = 0; i < e.size; i++) {
        switch (init.kind) {
          case 'zeros':
            v[i] = 0;
            break;
          case 'ones':
            v[i] = 1;
            break;
          case 'normal':
            v[i] = init.std * gauss();
            break;
          case 'uniform':
            v[i] = init.limit * (2 * rand() - 1);
            break;
        }
      }
    }
    return buffer;
  }
}
