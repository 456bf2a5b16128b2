/**
 * Symbolic dimensions. A dim is a number or a monomial of named symbols written canonically, e.g.
 * `"B"`, `"B*T"`, `"4*B"`, so that shapes from Reshape/-1 stay comparable at build time. Names that
 * start with `?` are unknown sizes, equal only to themselves.
 */
import { ShapeError } from './errors.js';

/** A dimension: a size, or a canonical symbolic product. */
export type Dim = number | string;

/** A shape. */
export type Shape = readonly Dim[];

let unknownCounter = 0;

/** A fresh unknown dim (data-dependent size). */
export function unknownDim(): Dim {
  unknownCounter += 1;
  return `?${unknownCounter}`;
}

interface Monomial {
  coef: number;
  syms: string[];
}

function parse(d: Dim): Monomial {
  if (typeof d === 'number') return { coef: d, syms: [] };
  let coef = 1;
  const syms: string[] = [];
  for (const part of d.split('*')) {
    const n = Number(part);
    if (part !== '' && Number.isInteger(n)) coef *= n;
    else syms.push(part);
  }
  return { coef, syms: syms.sort() };
}

function format(m: Monomial): Dim {
  if (m.syms.length === 0) return m.coef;
  const s = m.syms.join('*');
  return m.coef === 1 ? s : `${m.coef}*${s}`;
}

/** The canonical form of a dim. */
export function canonDim(d: Dim): Dim {
  return format(parse(d));
}

/** Whether two dims are known to be equal. */
export function dimEq(a: Dim, b: Dim): boolean {
  return canonDim(a) === canonDim(b);
}

/** The product of dims (1 for none). */
export function dimProd(dims: Shape): Dim {
  let coef = 1;
  const syms: string[] = [];
  for (const d of dims) {
    const m = parse(d);
    coef *= m.coef;
    syms.push(...m.syms);
  }
  return format({ coef, syms: syms.sort() });
}

/** `a / b` when it divides exactly, otherwise a fresh unknown dim. */
export function dimDiv(a: Dim, b: Dim): Dim {
  const ma = parse(a);
  const mb = parse(b);
  if (mb.coef === 0 || ma.coef % mb.coef !== 0) return unknownDim();
  const syms = [...ma.syms];
  for (const s of mb.syms) {
    const i = syms.indexOf(s);
    if (i < 0) return unknownDim();
    syms.splice(i, 1);
  }
  return format({ coef: ma.coef / mb.coef, syms });
}

/** Whether every dim is a number. */
export function isStatic(dims: Shape): dims is readonly number[] {
  return dims.every((d) => typeof d === 'number');
}

/** Renders a shape for error messages: `[B, 4, T]`. */
export function showShape(dims: Shape): string {
  return `[${dims.join(', ')}]`;
}

/** Normalizes a possibly negative axis against a rank; throws a ShapeError when out of range. */
export function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new ShapeError(op, `axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Numpy-style broadcast of shapes; throws a ShapeError naming the op and the shapes. */
export function broadcastShapes(op: string, shapes: readonly Shape[]): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = s.length - rank + i;
      if (k < 0) continue;
      const e = s[k]!;
      if (e === 1) continue;
      if (d === 1) d = canonDim(e);
      else if (!dimEq(d, e))
        throw new ShapeError(op, `cannot broadcast shapes ${shapes.map(showShape).join(' and ')}`);
    }
    out.push(d);
  }
  return out;
}
