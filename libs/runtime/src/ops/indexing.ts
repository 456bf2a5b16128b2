/**
 * Indexing: Gather, GatherElements and ScatterND with their gradient rules. Gradients into the data
 * are scatter-adds into zeros (ScatterND / ScatterElements with reduction "add", opset ≥ 16); indices
 * get no gradient. Indices must be non-negative.
 */
import { dimEq, normAxis, showShape } from '../graph/dims.js';
import { DTypeError, ShapeError } from '../graph/errors.js';
import { graphOf, type Tensor } from '../graph/graph.js';
import { zerosLike } from './helpers.js';
import { transpose, unsqueeze } from './shape-ops.js';

function checkIndices(op: string, indices: Tensor): void {
  if (indices.dtype !== 'i64') throw new DTypeError(op, `indices must be i64, got ${indices.dtype}`);
}

/** `data` indexed along `axis` by `indices`: `[...data[:axis], ...indices, ...data[axis+1:]]`. */
export function gather(data: Tensor, indices: Tensor, axis = 0): Tensor {
  checkIndices('Gather', indices);
  const a = normAxis('Gather', axis, data.rank);
  const dims = [...data.dims.slice(0, a), ...indices.dims, ...data.dims.slice(a + 1)];
  return graphOf('Gather', data, indices).emit({
    opType: 'Gather',
    inputs: [data, indices],
    outputs: [{ dtype: data.dtype, dims }],
    attributes: { axis: { kind: 'int', value: a } },
    vjp: ([d]) => {
      const I = indices.rank;
      if (a === 0) return [scatterAdd(zerosLike(data), unsqueeze(indices, [-1]), d!), undefined];
      // Move the gathered axis first, scatter-add, and move it back.
      const permData = [a, ...[...Array(data.rank).keys()].filter((i) => i !== a)];
      const permD = [
        ...[...Array(I).keys()].map((i) => a + i),
        ...[...Array(a).keys()],
        ...[...Array(data.rank - a - 1).keys()].map((i) => a + I + i),
      ];
      const moved = scatterAdd(
        zerosLike(transpose(data, permData)),
        unsqueeze(indices, [-1]),
        transpose(d!, permD),
      );
      return [
        transpose(
          moved,
          permData.map((_, i) => permData.indexOf(i)),
        ),
        undefined,
      ];
    },
  })[0]!;
}

/** `out[i][j] = data[indices[i][j]][j]` (for axis 0), shape of `indices`. */
export function gatherElements(data: Tensor, indices: Tensor, axis: number): Tensor {
  checkIndices('GatherElements', indices);
  const a = normAxis('GatherElements', axis, data.rank);
  if (indices.rank !== data.rank)
    throw new ShapeError(
      'GatherElements',
      `data ${showShape(data.dims)} and indices ${showShape(indices.dims)} ranks differ`,
    );
  const g = graphOf('GatherElements', data, indices);
  return g.emit({
    opType: 'GatherElements',
    inputs: [data, indices],
    outputs: [{ dtype: data.dtype, dims: indices.dims }],
    attributes: { axis: { kind: 'int', value: a } },
    vjp: ([d]) => [
      g.emit({
        opType: 'ScatterElements',
        inputs: [zerosLike(data), indices, d!],
        outputs: [{ dtype: data.dtype, dims: data.dims }],
        attributes: { axis: { kind: 'int', value: a }, reduction: { kind: 'string', value: 'add' } },
      })[0]!,
      undefined,
    ],
  })[0]!;
}

function checkScatterND(data: Tensor, indices: Tensor, updates: Tensor): void {
  checkIndices('ScatterND', indices);
  const k = indices.dims[indices.rank - 1];
  const want =
    typeof k === 'number' && k <= data.rank
      ? [...indices.dims.slice(0, -1), ...data.dims.slice(k)]
      : undefined;
  if (want === undefined || want.length !== updates.rank || want.some((w, i) => !dimEq(w, updates.dims[i]!)))
    throw new ShapeError(
      'ScatterND',
      `data ${showShape(data.dims)}, indices ${showShape(indices.dims)}, updates ${showShape(updates.dims)} do not fit`,
    );
  if (updates.dtype !== data.dtype)
    throw new DTypeError('ScatterND', `updates ${updates.dtype} vs data ${data.dtype}`);
}

function scatterAdd(data: Tensor, indices: Tensor, updates: Tensor): Tensor {
  checkScatterND(data, indices, updates);
  return data.graph.emit({
    opType: 'ScatterND',
    inputs: [data, indices, updates],
    outputs: [{ dtype: data.dtype, dims: data.dims }],
    attributes: { reduction: { kind: 'string', value: 'add' } },
    hint: 'scatter_add',
  })[0]!;
}

/** A copy of `data` with the slices at `indices [..., k]` replaced by `updates`. */
export function scatterND(data: Tensor, indices: Tensor, updates: Tensor): Tensor {
  checkScatterND(data, indices, updates);
  const g = graphOf('ScatterND', data, indices, updates);
  return g.emit({
    opType: 'ScatterND',
    inputs: [data, indices, updates],
    outputs: [{ dtype: data.dtype, dims: data.dims }],
    vjp: ([d], [nd, , nu]) => [
      // Overwritten slices receive no gradient; the rest passes through.
      nd ? scatterND(d!, indices, zerosLike(updates)) : undefined,
      undefined,
      nu
        ? g.emit({
            opType: 'GatherND',
            inputs: [d!, indices],
            outputs: [{ dtype: d!.dtype, dims: updates.dims }],
          })[0]!
        : undefined,
    ],
  })[0]!;
}
