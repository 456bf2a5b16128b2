/**
 * The graph builder: typed symbolic tensors, nodes that remember how to differentiate themselves, and
 * export to an ONNX ModelProto. Nodes are appended in creation order, so the node list is always a
 * topological order (autodiff walks it backwards). Value names are `<scope>/<hint>` made unique with
 * a counter, so the same build code always gives the same names.
 */
import type { DType } from '../onnx/dtype.js';
import type {
  ProtoAttribute,
  ProtoGraph,
  ProtoModel,
  ProtoTensor,
  ProtoValueInfo,
} from '../onnx/model-proto.js';
import { encodeModel } from '../onnx/model-proto.js';
import { canonDim, type Shape } from './dims.js';
import { GraphError } from './errors.js';

/** Data for a constant tensor. */
export type TensorData = Float32Array | Float64Array | BigInt64Array | Uint8Array;

/**
 * A vector-Jacobian rule: given the gradients of a node's outputs (undefined = zero) and which inputs
 * need a gradient, returns the gradient of each input (undefined = none). Rules emit ONNX nodes through
 * the ops functions and skip the inputs that are not needed, so unused branches are never emitted.
 */
export type VjpRule = (
  dOutputs: readonly (Tensor | undefined)[],
  needs: readonly boolean[],
) => readonly (Tensor | undefined)[];

/** A node of the graph. */
export interface GraphNode {
  readonly opType: string;
  readonly name: string;
  readonly inputs: readonly (Tensor | undefined)[];
  readonly outputs: readonly Tensor[];
  readonly attributes: Readonly<Record<string, ProtoAttribute>>;
  /** Absent for ops that pass no gradient (Shape, comparisons, stopGradient). */
  readonly vjp: VjpRule | undefined;
  /**
   * For the last node of a decomposed op: the op's logical inputs, which `vjp` differentiates with
   * respect to instead of the node's own ONNX inputs. @default inputs
   */
  readonly diffInputs: readonly (Tensor | undefined)[];
  /** Position in the graph's node list. */
  readonly index: number;
}

/** A symbolic tensor: a named value of the graph with a dtype and a (possibly symbolic) shape. */
export class Tensor {
  #name: string;

  /** @internal */
  constructor(
    readonly graph: Graph,
    name: string,
    readonly dtype: DType,
    readonly dims: Shape,
    readonly producer: GraphNode | undefined,
  ) {
    this.#name = name;
  }

  /** The value name in the exported graph. */
  get name(): string {
    return this.#name;
  }

  /** @internal Renames a node output that becomes a graph output (see {@link Graph.output}). */
  renameAsOutput(name: string): void {
    this.#name = name;
  }

  /** Number of axes. */
  get rank(): number {
    return this.dims.length;
  }
}

/** What an op emitter asks of the graph for one node. */
export interface NodeSpec {
  opType: string;
  inputs: readonly (Tensor | undefined)[];
  outputs: readonly { dtype: DType; dims: Shape; hint?: string }[];
  attributes?: Record<string, ProtoAttribute>;
  vjp?: VjpRule;
  /** See {@link GraphNode.diffInputs}. */
  diffInputs?: readonly (Tensor | undefined)[];
  /** Value-name hint; @default the op type in lower case */
  hint?: string;
}

/** Options for {@link Graph.toModel}. */
export interface ExportOptions {
  /** ai.onnx opset (18: every Reduce* takes axes as an input). @default 18 */
  opset?: number;
  /** @default 8 */
  irVersion?: number;
  docString?: string;
}

/** Builds one ONNX graph. Create tensors with {@link Graph.input} / {@link Graph.constant} and the ops. */
export class Graph {
  readonly nodes: GraphNode[] = [];
  readonly inputs: Tensor[] = [];
  readonly outputs: Tensor[] = [];
  readonly initializers = new Map<string, { tensor: Tensor; data: TensorData }>();
  private readonly used = new Map<string, number>();
  private readonly scopes: string[] = [];
  private readonly constCache = new Map<string, Tensor>();
  /** Outer graph, for If branches that read its values. */
  readonly parent: Graph | undefined;
  /**
   * Seed of the graph's random nodes that are given none (dropout): each gets its own seed derived
   * from this one and its place in the graph, so a graph built the same way draws the same numbers in
   * a new session. Unset: onnxruntime seeds them at random.
   */
  randomSeed: number | undefined;

  /** @param name graph name in the ModelProto */
  constructor(
    readonly name = 'main',
    parent?: Graph,
  ) {
    this.parent = parent;
  }

  /** Runs `fn` with `name` pushed on the value-name scope. */
  scope<R>(name: string, fn: () => R): R {
    this.scopes.push(name);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  /** A unique value name under the current scope. */
  uniqueName(hint: string): string {
    const base = [...this.scopes, hint].join('/');
    const n = this.used.get(base) ?? 0;
    this.used.set(base, n + 1);
    const name = n === 0 ? base : `${base}_${n}`;
    if (this.parent !== undefined) return `${this.name}:${name}`;
    return name;
  }

  /** Declares a graph input; throws GraphError if the name is taken. */
  input(name: string, dtype: DType, dims: Shape): Tensor {
    if (this.used.has(name)) throw new GraphError(`input name ${name} is already used`);
    this.used.set(name, 1);
    const t = new Tensor(this, name, dtype, dims.map(canonDim), undefined);
    this.inputs.push(t);
    return t;
  }

  /** A constant stored as an initializer. Small constants with equal contents are shared. */
  constant(dtype: DType, dims: readonly number[], data: TensorData, hint = 'const'): Tensor {
    const small = data.length <= 16;
    const key = small
      ? `${dtype}|${dims.join(',')}|${Array.from(data as ArrayLike<number | bigint>).join(',')}`
      : '';
    if (small) {
      const hit = this.constCache.get(key);
      if (hit !== undefined) return hit;
    }
    const t = new Tensor(this, this.uniqueName(hint), dtype, dims, undefined);
    this.initializers.set(t.name, { tensor: t, data });
    if (small) this.constCache.set(key, t);
    return t;
  }

  /** Appends a node and returns its output tensors. */
  emit(spec: NodeSpec): Tensor[] {
    for (const t of spec.inputs) {
      if (t !== undefined && !this.owns(t))
        throw new GraphError(`${spec.opType}: input ${t.name} belongs to another graph`);
    }
    const hint = spec.hint ?? spec.opType.toLowerCase();
    const outputs: Tensor[] = [];
    const node: GraphNode = {
      opType: spec.opType,
      name: `${this.uniqueName(hint)}#node`,
      inputs: spec.inputs,
      outputs,
      attributes: spec.attributes ?? {},
      vjp: spec.vjp,
      diffInputs: spec.diffInputs ?? spec.inputs,
      index: this.nodes.length,
    };
    for (const o of spec.outputs) {
      outputs.push(new Tensor(this, this.uniqueName(o.hint ?? hint), o.dtype, o.dims.map(canonDim), node));
    }
    this.nodes.push(node);
    return outputs;
  }

  /** Whether `t` is readable in this graph (its own or an enclosing graph's value). */
  owns(t: Tensor): boolean {
    return t.graph === this || (this.parent !== undefined && this.parent.owns(t));
  }

  /**
   * Marks `t` as a graph output named `name`. A node output of this (top-level) graph that is not an
   * output yet is renamed to `name`, so its producer writes straight into the output, which may be a
   * caller's pre-bound buffer; otherwise (a graph input, a constant, a second name) an Identity is added.
   * Throws GraphError when `name` is taken.
   */
  output(t: Tensor, name?: string): Tensor {
    let out = t;
    if (name !== undefined && name !== t.name) {
      if (this.used.has(name)) throw new GraphError(`output name ${name} is already used`);
      this.used.set(name, 1);
      if (
        this.parent === undefined &&
        t.graph === this &&
        t.producer !== undefined &&
        !this.outputs.includes(t)
      ) {
        t.renameAsOutput(name);
        this.outputs.push(t);
        return t;
      }
      const node: GraphNode = {
        opType: 'Identity',
        name: `${name}#node`,
        inputs: [t],
        outputs: [],
        attributes: {},
        vjp: (d) => [d[0]],
        diffInputs: [t],
        index: this.nodes.length,
      };
      out = new Tensor(this, name, t.dtype, t.dims, node);
      (node.outputs as Tensor[]).push(out);
      this.nodes.push(node);
    }
    this.outputs.push(out);
    return out;
  }

  /** The graph as plain proto records. */
  toProto(): ProtoGraph {
    const info = (t: Tensor): ProtoValueInfo => ({
      name: t.name,
      dtype: t.dtype,
      dims: t.dims.map((d) => (typeof d === 'string' && d.startsWith('?') ? null : d)),
    });
    const initializers: ProtoTensor[] = [];
    for (const { tensor, data } of this.initializers.values()) {
      initializers.push({ name: tensor.name, dtype: tensor.dtype, dims: tensor.dims as number[], data });
    }
    return {
      name: this.name,
      nodes: this.nodes.map((n) => ({
        opType: n.opType,
        name: n.name,
        inputs: n.inputs.map((t) => t?.name ?? ''),
        outputs: n.outputs.map((t) => t.name),
        attributes: n.attributes,
      })),
      inputs: this.inputs.map(info),
      outputs: this.outputs.map(info),
      initializers,
      valueInfo: [],
    };
  }

  /** The model as plain proto records. */
  toModel(opts: ExportOptions = {}): ProtoModel {
    return {
      graph: this.toProto(),
      opset: opts.opset ?? 18,
      irVersion: opts.irVersion ?? 8,
      docString: opts.docString,
    };
  }

  /** The model as ONNX bytes. */
  toBytes(opts: ExportOptions = {}): Uint8Array {
    return encodeModel(this.toModel(opts));
  }
}

/** Returns the graph shared by the given tensors; throws GraphError when they come from unrelated graphs. */
export function graphOf(op: string, ...ts: readonly (Tensor | undefined)[]): Graph {
  let g: Graph | undefined;
  for (const t of ts) {
    if (t === undefined) continue;
    // The innermost graph wins: a branch may read outer values.
    if (g === undefined || isInner(t.graph, g)) g = t.graph;
  }
  if (g === undefined) throw new GraphError(`${op}: no tensor operands`);
  for (const t of ts)
    if (t !== undefined && !g.owns(t)) throw new GraphError(`${op}: operands from unrelated graphs`);
  return g;
}

function isInner(a: Graph, b: Graph): boolean {
  for (let g: Graph | undefined = a.parent; g !== undefined; g = g.parent) if (g === b) return true;
  return false;
}
