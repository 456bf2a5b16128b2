/**
 * A checked onnxruntime-node session. At creation it compares the session's input/output names and
 * dtypes with the graph it was built from; before each run it checks every feed's dtype and dims
 * against the declared (possibly symbolic) shapes, binding each symbol to one size across all feeds.
 * Outputs may be written into caller-owned tensors (pre-allocated, reused between runs).
 */
import * as ort from 'onnxruntime-node';
import { ORT_TYPE, type DType, type TypedArrayOf } from '../onnx/dtype.js';
import type { Shape } from '../graph/dims.js';
import { showShape } from '../graph/dims.js';
import type { Graph } from '../graph/graph.js';

/** A host tensor: dtype, static dims and its data. */
export interface HostTensor<D extends DType = DType> {
  dtype: D;
  dims: readonly number[];
  data: TypedArrayOf[D];
}

/** A named value the session expects or produces. */
export interface ValueSpec {
  name: string;
  dtype: DType;
  dims: Shape;
}

/** Where the session runs. @default 'cpu' */
export type ExecutionProvider = 'cpu' | 'cuda';

/** Session settings. */
export interface SessionOptions {
  /** @default 'cpu' */
  executionProvider?: ExecutionProvider;
  /** Threads inside one op; 0 lets onnxruntime choose. @default 0 */
  intraOpThreads?: number;
  /** Threads across independent ops (parallel mode only). @default 1 */
  interOpThreads?: number;
  /**
   * Whether the intra-op pool's threads spin while waiting for the next parallel section
   * (onnxruntime's `session.intra_op.allow_spinning`). Spinning saves a wake-up per section on
   * dedicated cores; on shared or oversubscribed CPUs (a VM, a pod under a CPU limit) the spinning
   * threads take time from the thread with the work, and small graphs run many short sections — a
   * decoder step has hundreds. Only matters with more than one intra-op thread. @default true
   */
  allowSpinning?: boolean;
  /** @default 'all' */
  graphOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** onnxruntime log severity, 0 verbose .. 4 fatal. @default 3 */
  logSeverity?: 0 | 1 | 2 | 3 | 4;
  /**
   * Write onnxruntime's per-node profile (Chrome trace JSON) to `<prefix>_<date>.json` when the session
   * is released. For benchmarks; adds overhead to every run. @default off
   */
  profileFilePrefix?: string;
}

/** A feed or output does not match what the graph declares. */
export class SessionIoError extends Error {
  override name = 'SessionIoError';
}

/** Builds a HostTensor. */
export function hostTensor<D extends DType>(
  dtype: D,
  dims: readonly number[],
  data: TypedArrayOf[D],
): HostTensor<D> {
  const n = dims.reduce((a, b) => a * b, 1);
  if (data.length !== n)
    throw new SessionIoError(`data has ${data.length} elements, dims ${showShape(dims)} need ${n}`);
  return { dtype, dims, data };
}

function toOrt(t: HostTensor): ort.Tensor {
  return new ort.Tensor(ORT_TYPE[t.dtype], t.data as ort.Tensor.DataType, t.dims);
}

const FROM_ORT: Record<string, DType> = { float32: 'f32', float64: 'f64', int64: 'i64', bool: 'bool' };

async function openOrt(model: Uint8Array, opts: SessionOptions): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, {
    executionProviders: [opts.executionProvider ?? 'cpu'],
    intraOpNumThreads: opts.intraOpThreads ?? 0,
    interOpNumThreads: opts.interOpThreads ?? 1,
    graphOptimizationLevel: opts.graphOptimization ?? 'all',
    logSeverityLevel: opts.logSeverity ?? 3,
    executionMode: 'sequential',
    ...(opts.allowSpinning === false ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
    ...(opts.profileFilePrefix === undefined
      ? {}
      : { enableProfiling: true, profileFilePrefix: opts.profileFilePrefix }),
  });
}

/** A checked session over one graph. */
export class Session {
  private constructor(
    private readonly session: ort.InferenceSession,
    /** Declared inputs. */
    readonly inputs: readonly ValueSpec[],
    /** Declared outputs. */
    readonly outputs: readonly ValueSpec[],
  ) {}

  /**
   * Creates a session from a built graph. Throws SessionIoError when onnxruntime's view of the inputs
   * or outputs differs from the graph's, and onnxruntime's errors for invalid models.
   */
  static async create(graph: Graph, opts: SessionOptions = {}, model?: Uint8Array): Promise<Session> {
    const session = await openOrt(model ?? graph.toBytes(), opts);
    const spec = (t: { name: string; dtype: DType; dims: Shape }): ValueSpec => ({
      name: t.name,
      dtype: t.dtype,
      dims: t.dims,
    });
    const s = new Session(session, graph.inputs.map(spec), graph.outputs.map(spec));
    s.checkMetadata(session.inputMetadata, s.inputs, 'input');
    s.checkMetadata(session.outputMetadata, s.outputs, 'output');
    return s;
  }

  /**
   * Opens a serialized model (ours or another exporter's): the declared inputs and outputs are read from
   * onnxruntime's metadata. Unnamed or free dims become distinct `?` symbols. Throws SessionIoError for a
   * value of a dtype the runtime does not handle (it names the value), and onnxruntime's errors for an
   * invalid model.
   */
  static async load(model: Uint8Array, opts: SessionOptions = {}): Promise<Session> {
    const session = await openOrt(model, opts);
    let free = 0;
    const specs = (meta: readonly ort.InferenceSession.ValueMetadata[], what: string): ValueSpec[] =>
      meta.map((m) => {
        const dtype = m.isTensor ? FROM_ORT[m.type] : undefined;
        if (!m.isTensor || dtype === undefined)
          throw new SessionIoError(
            `${what} ${m.name}: ${m.isTensor ? m.type : 'non-tensor'} values are not supported (f32, f64, i64, bool are)`,
          );
        const dims = m.shape.map((d) =>
          typeof d === 'number' && d >= 0 ? d : typeof d === 'string' && d !== '' ? d : `?free${free++}`,
        );
        return { name: m.name, dtype, dims };
      });
    try {
      return new Session(
        session,
        specs(session.inputMetadata, 'input'),
        specs(session.outputMetadata, 'output'),
      );
    } catch (e) {
      await session.release();
      throw e;
    }
  }

  private checkMetadata(
    meta: readonly ort.InferenceSession.ValueMetadata[],
    want: readonly ValueSpec[],
    what: string,
  ): void {
    const problems: string[] = [];
    if (meta.length !== want.length) problems.push(`${what} count ${meta.length}, expected ${want.length}`);
    want.forEach((w, i) => {
      const m = meta[i];
      if (m === undefined || m.name !== w.name) problems.push(`${what} ${i}: ${m?.name} expected ${w.name}`);
      else if (m.isTensor && FROM_ORT[m.type] !== w.dtype)
        problems.push(`${what} ${w.name}: ${m.type} expected ${w.dtype}`);
    });
    if (problems.length > 0) throw new SessionIoError(problems.join('; '));
  }

  /** Checks feeds against the declared inputs; throws SessionIoError listing every problem. */
  checkFeeds(feeds: Readonly<Record<string, HostTensor>>): void {
    const problems: string[] = [];
    const bound = new Map<string, number>();
    for (const spec of this.inputs) {
      const t = feeds[spec.name];
      if (t === undefined) {
        problems.push(`${spec.name}: missing`);
        continue;
      }
      if (t.dtype !== spec.dtype) problems.push(`${spec.name}: dtype ${t.dtype}, expected ${spec.dtype}`);
      if (t.dims.length !== spec.dims.length) {
        problems.push(`${spec.name}: dims ${showShape(t.dims)}, expected ${showShape(spec.dims)}`);
        continue;
      }
      spec.dims.forEach((d, i) => {
        const got = t.dims[i]!;
        if (typeof d === 'number') {
          if (d !== got)
            problems.push(`${spec.name}: dims ${showShape(t.dims)}, expected ${showShape(spec.dims)}`);
        } else if (!d.startsWith('?')) {
          const b = bound.get(d);
          if (b === undefined) bound.set(d, got);
          else if (b !== got) problems.push(`${spec.name}: dim ${d} = ${got}, but ${b} elsewhere`);
        }
      });
    }
    for (const name of Object.keys(feeds))
      if (!this.inputs.some((s) => s.name === name)) problems.push(`${name}: not an input`);
    if (problems.length > 0) throw new SessionIoError(problems.join('; '));
  }

  /**
   * Runs the graph. `into` maps output names to caller-owned tensors that receive the results (no
   * allocation); other outputs are returned in fresh arrays. Only the outputs named in `fetch` (default
   * all) are computed.
   */
  async run(
    feeds: Readonly<Record<string, HostTensor>>,
    into: Readonly<Record<string, HostTensor>> = {},
    fetch?: readonly string[],
  ): Promise<Record<string, HostTensor>> {
    this.checkFeeds(feeds);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = toOrt(v);
    const names = fetch ?? this.outputs.map((o) => o.name);
    const fetches: Record<string, ort.Tensor | null> = {};
    for (const n of names) {
      const dst = into[n];
      fetches[n] = dst === undefined ? null : toOrt(dst);
    }
    const result = await this.session.run(ortFeeds, fetches);
    const out: Record<string, HostTensor> = {};
    for (const n of names) {
      const r = result[n];
      if (r === undefined) throw new SessionIoError(`output ${n} missing from the run`);
      const dst = into[n];
      // onnxruntime-node writes pre-bound outputs into the caller's memory (session.test.ts checks it).
      if (dst !== undefined) out[n] = dst;
      else out[n] = { dtype: FROM_ORT[r.type] ?? 'f32', dims: r.dims, data: r.data as TypedArrayOf[DType] };
    }
    return out;
  }

  /** Frees the native session. */
  async release(): Promise<void> {
    await this.session.release();
  }
}
