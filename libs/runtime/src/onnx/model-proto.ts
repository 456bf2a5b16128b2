/**
 * An ONNX ModelProto writer: plain TypeScript records for the subset of onnx.proto the engine emits
 * (model, graph, node, attribute, tensor, value info) and their protobuf wire encoding through
 * `@bufbuild/protobuf/wire`. Field numbers follow onnx/onnx.proto. It writes; it does not read models.
 */
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { ONNX_DTYPE, bytesOf, type DType } from './dtype.js';

/** One dimension of a value's type: a size, a symbolic name, or unknown. */
export type ProtoDim = number | string | null;

/** A graph input/output/value_info entry. */
export interface ProtoValueInfo {
  name: string;
  dtype: DType;
  dims: readonly ProtoDim[];
}

/** A tensor with its data inline (`raw_data`), or stored in an external file. */
export interface ProtoTensor {
  name: string;
  dtype: DType;
  dims: readonly number[];
  data?: Float32Array | Float64Array | BigInt64Array | Uint8Array;
  /** External storage: file relative to the model, byte offset and length. */
  external?: { location: string; offset: number; length: number };
}

/** A node attribute; the kind fixes the AttributeProto type. */
export type ProtoAttribute =
  | { kind: 'float'; value: number }
  | { kind: 'int'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: ProtoTensor }
  | { kind: 'graph'; value: ProtoGraph }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'ints'; value: readonly number[] };

/** A node. An empty input name means an omitted optional input. */
export interface ProtoNode {
  opType: string;
  name: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes: Readonly<Record<string, ProtoAttribute>>;
}

/** A graph (also used for If branches). */
export interface ProtoGraph {
  name: string;
  nodes: readonly ProtoNode[];
  inputs: readonly ProtoValueInfo[];
  outputs: readonly ProtoValueInfo[];
  initializers: readonly ProtoTensor[];
  valueInfo: readonly ProtoValueInfo[];
}

/** A whole model. */
export interface ProtoModel {
  graph: ProtoGraph;
  /** ai.onnx opset. @default 17 */
  opset?: number;
  /** @default 8 */
  irVersion?: number;
  producerName?: string;
  docString?: string;
}

// AttributeProto.AttributeType codes.
const ATTR_TYPE = { float: 1, int: 2, string: 3, tensor: 4, graph: 5, floats: 6, ints: 7 } as const;

/** Serializes a model to ONNX protobuf bytes. */
export function encodeModel(model: ProtoModel): Uint8Array {
  const w = new BinaryWriter();
  w.uint32((1 << 3) | 0).int64(model.irVersion ?? 8);
  w.uint32((2 << 3) | 2).string(model.producerName ?? '@rest/runtime');
  if (model.docString !== undefined) w.uint32((6 << 3) | 2).string(model.docString);
  w.uint32((7 << 3) | 2).fork();
  writeGraph(w, model.graph);
  w.join();
  // OperatorSetIdProto: domain = 1 ("" is ai.onnx), version = 2.
  w.uint32((8 << 3) | 2).fork();
  w.uint32((1 << 3) | 2).string('');
  w.uint32((2 << 3) | 0).int64(model.opset ?? 17);
  w.join();
  return w.finish();
}

function writeGraph(w: BinaryWriter, g: ProtoGraph): void {
  for (const n of g.nodes) {
    w.uint32((1 << 3) | 2).fork();
    writeNode(w, n);
    w.join();
  }
  w.uint32((2 << 3) | 2).string(g.name);
  for (const t of g.initializers) {
    w.uint32((5 << 3) | 2).fork();
    writeTensor(w, t);
    w.join();
  }
  const infos: [number, readonly ProtoValueInfo[]][] = [
    [11, g.inputs],
    [12, g.outputs],
    [13, g.valueInfo],
  ];
  for (const [field, list] of infos) {
    for (const v of list) {
      w.uint32((field << 3) | 2).fork();
      writeValueInfo(w, v);
      w.join();
    }
  }
}

function writeNode(w: BinaryWriter, n: ProtoNode): void {
  for (const i of n.inputs) w.uint32((1 << 3) | 2).string(i);
  for (const o of n.outputs) w.uint32((2 << 3) | 2).string(o);
  w.uint32((3 << 3) | 2).string(n.name);
  w.uint32((4 << 3) | 2).string(n.opType);
  for (const [name, a] of Object.entries(n.attributes)) {
    w.uint32((5 << 3) | 2).fork();
    writeAttribute(w, name, a);
    w.join();
  }
}

function writeAttribute(w: BinaryWriter, name: string, a: ProtoAttribute): void {
  w.uint32((1 << 3) | 2).string(name);
  w.uint32((20 << 3) | 0).int32(ATTR_TYPE[a.kind]);
  switch (a.kind) {
    case 'float':
      w.uint32((2 << 3) | 5).float(a.value);
      break;
    case 'int':
      w.uint32((3 << 3) | 0).int64(a.value);
      break;
    case 'string':
      w.uint32((4 << 3) | 2).string(a.value);
      break;
    case 'tensor':
      w.uint32((5 << 3) | 2).fork();
      writeTensor(w, a.value);
      w.join();
      break;
    case 'graph':
      w.uint32((6 << 3) | 2).fork();
      writeGraph(w, a.value);
      w.join();
      break;
    case 'floats':
      w.uint32((7 << 3) | 2).fork();
      for (const f of a.value) w.float(f);
      w.join();
      break;
    case 'ints':
      w.uint32((8 << 3) | 2).fork();
      for (const i of a.value) w.int64(i);
      w.join();
      break;
  }
}

function writeTensor(w: BinaryWriter, t: ProtoTensor): void {
  if (t.dims.length > 0) {
    w.uint32((1 << 3) | 2).fork();
    for (const d of t.dims) w.int64(d);
    w.join();
  }
  w.uint32((2 << 3) | 0).int32(ONNX_DTYPE[t.dtype]);
  w.uint32((8 << 3) | 2).string(t.name);
  if (t.external !== undefined) {
    const entries: [string, string][] = [
      ['location', t.external.location],
      ['offset', String(t.external.offset)],
      ['length', String(t.external.length)],
    ];
    for (const [k, v] of entries) {
      w.uint32((13 << 3) | 2).fork();
      w.uint32((1 << 3) | 2).string(k);
      w.uint32((2 << 3) | 2).string(v);
      w.join();
    }
    w.uint32((14 << 3) | 0).int32(1);
  } else if (t.data !== undefined) {
    w.uint32((9 << 3) | 2).bytes(bytesOf(t.data));
  }
}

function writeValueInfo(w: BinaryWriter, v: ProtoValueInfo): void {
  w.uint32((1 << 3) | 2).string(v.name);
  // TypeProto { tensor_type = 1: Tensor { elem_type = 1, shape = 2: TensorShapeProto { dim = 1 } } }
  w.uint32((2 << 3) | 2).fork();
  w.uint32((1 << 3) | 2).fork();
  w.uint32((1 << 3) | 0).int32(ONNX_DTYPE[v.dtype]);
  w.uint32((2 << 3) | 2).fork();
  for (const d of v.dims) {
    w.uint32((1 << 3) | 2).fork();
    if (typeof d === 'number') w.uint32((1 << 3) | 0).int64(d);
    else if (typeof d === 'string') w.uint32((2 << 3) | 2).string(d);
    w.join();
  }
  w.join();
  w.join();
  w.join();
}
