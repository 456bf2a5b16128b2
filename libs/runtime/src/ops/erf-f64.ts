/**
 * erf for f64 graphs, decomposed into primitive ops, because onnxruntime's CPU provider registers Erf
 * for float only ("Could not find an implementation for Erf(13)" on double). For |x| < 2.5 a 40-term
 * Maclaurin series in x² (Horner form); beyond, 1 - erfc(|x|) with erfc from a 40-level continued
 * fraction, sign restored. Both are within 6e-15 of the true erf on [0, 6] (checked against CPython's
 * math.erf); past 6, erf is ±1 in double. The nodes carry no gradient rules: the caller attaches erf's
 * own rule to the final node, so the gradient checked is erf's, not the series'.
 */
import type { Tensor } from '../graph/graph.js';
import { scalar } from './helpers.js';

/** The decomposed erf's nodes up to (not including) the final select; returns its inputs. */
export function erfF64Parts(x: Tensor): { negative: Tensor; value: Tensor; negated: Tensor } {
  const g = x.graph;
  const c = (v: number): Tensor => scalar(g, 'f64', v);
  const op = (opType: string, ...inputs: Tensor[]): Tensor =>
    g.emit({
      opType,
      inputs,
      outputs: [{ dtype: 'f64', dims: x.dims }],
      hint: `erf_${opType.toLowerCase()}`,
    })[0]!;
  const a = op('Abs', x);
  const a2 = op('Mul', a, a);
  // Maclaurin: erf(a) = 2/√π · a · Σ (-1)^n a^(2n) / (n! (2n+1))
  const N = 40;
  const coef = (n: number): number => {
    let f = 1;
    for (let k = 1; k <= n; k++) f *= k;
    return (n % 2 === 0 ? 1 : -1) / (f * (2 * n + 1));
  };
  let s = c(coef(N - 1));
  for (let n = N - 2; n >= 0; n--) s = op('Add', op('Mul', s, a2), c(coef(n)));
  const series = op('Mul', op('Mul', s, a), c(2 / Math.sqrt(Math.PI)));
  // Continued fraction: erfc(a) = e^(-a²)/√π / (a + (1/2)/(a + (2/2)/(a + (3/2)/(a + ...))))
  const K = 40;
  let f = a;
  for (let k = K; k >= 1; k--) f = op('Add', a, op('Div', c(k / 2), f));
  const erfc = op('Div', op('Mul', op('Exp', op('Neg', a2)), c(1 / Math.sqrt(Math.PI))), f);
  const tail = op('Sub', c(1), erfc);
  const small = g.emit({
    opType: 'Less',
    inputs: [a, c(2.5)],
    outputs: [{ dtype: 'bool', dims: x.dims }],
  })[0]!;
  const value = g.emit({
    opType: 'Where',
    inputs: [small, series, tail],
    outputs: [{ dtype: 'f64', dims: x.dims }],
  })[0]!;
  const negative = g.emit({
    opType: 'Less',
    inputs: [x, c(0)],
    outputs: [{ dtype: 'bool', dims: x.dims }],
  })[0]!;
  return { negative, value, negated: op('Neg', value) };
}
