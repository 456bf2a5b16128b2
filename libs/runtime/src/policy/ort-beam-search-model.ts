/**
 * The model that runs onnxruntime's `com.microsoft.BeamSearch` contrib op (`model_type` 1,
 * encoder–decoder) over one of our policies, for the test peer in `ort-beam-search.ts`. The op takes
 * two subgraphs, built here from the same parameters and graph builder as a bundle's
 * `encoder_model.onnx` and `decoder_model_merged.onnx` (`inference-graphs.ts`), by renaming their
 * values and wiring them together at the ONNX level:
 *
 * - encoder subgraph: `encoder_input_ids`, `encoder_attention_mask`, `decoder_input_ids` (`[B, *] i32`)
 *   → `logits [B, 1, V]`, `encoder_hidden_states [B, S, D]`, then `present_{key,value}_self_i
 *   [B, H, 1, K]` for every layer, then `present_{key,value}_cross_i [B, H, S, K]` for every layer: our
 *   encoder followed by the merged decoder's first step (empty past, `use_cache_branch` false);
 * - decoder subgraph: `input_ids [B, 1] i32`, `encoder_attention_mask`, `encoder_hidden_states`, all
 *   self pasts then all cross pasts → `logits` and `present_{key,value}_self_i`: the merged decoder's
 *   cached step (`use_cache_branch` true). The static `1` in `input_ids`' dims is what makes the op feed
 *   only the newest token.
 *
 * B is sources × beams, S the source length, V the vocabulary, D the model width, H heads, K head width.
 * Names, order and dtypes are those `subgraph_t5_encoder.cc` and `subgraph_t5_decoder.cc` check
 * (microsoft/onnxruntime, `onnxruntime/contrib_ops/cpu/transformers/`); the op reads heads, head width
 * and vocabulary from the static dims of `present_key_self_0` and `logits`. The op's inputs are those
 * of `beam_search_parameters.cc`. model-proto.ts has no i32, node domains or second opset import, so
 * the declarations and the outer model are written here with the protobuf wire writer.
 */
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import {
  encodeModel,
  type ProtoAttribute,
  type ProtoGraph,
  type ProtoNode,
  type ProtoTensor,
} from '../onnx/model-proto.js';
import type { TransformerConfig } from '../models/config.js';
import { decoderGraph, encoderGraph } from '../models/inference-graphs.js';

/** Thrown for options or inputs the peer cannot run; the message names the field. */
export class OrtBeamSearchError extends Error {
  override name = 'OrtBeamSearchError';
}

/** ONNX `TensorProto.DataType` codes of the values declared here (i32 is outside our DType). */
const ELEM = { f32: 1, i32: 6, i64: 7, bool: 9 } as const;

/** A subgraph or model input/output declaration. */
interface Io {
  name: string;
  elem: keyof typeof ELEM;
  dims: readonly (number | string)[];
}

/** Renames every value of `g`, in nested branches too; `rename` must be a pure function of the name. */
function renamed(g: ProtoGraph, rename: (name: string) => string): ProtoGraph {
  const attr = (a: ProtoAttribute): ProtoAttribute =>
    a.kind === 'graph' ? { kind: 'graph', value: renamed(a.value, rename) } : a;
  return {
    name: g.name,
    nodes: g.nodes.map((n) => ({
      opType: n.opType,
      name: rename(n.name),
      inputs: n.inputs.map((i) => (i === '' ? '' : rename(i))),
      outputs: n.outputs.map(rename),
      attributes: Object.fromEntries(Object.entries(n.attributes).map(([k, a]) => [k, attr(a)])),
    })),
    inputs: g.inputs.map((v) => ({ ...v, name: rename(v.name) })),
    outputs: g.outputs.map((v) => ({ ...v, name: rename(v.name) })),
    initializers: g.initializers.map((t) => ({ ...t, name: rename(t.name) })),
    valueInfo: g.valueInfo.map((v) => ({ ...v, name: rename(v.name) })),
  };
}

/** Every value name read by a node of `g` or of its branches. */
function consumed(g: ProtoGraph, into = new Set<string>()): Set<string> {
  for (const n of g.nodes) {
    for (const i of n.inputs) into.add(i);
    for (const a of Object.values(n.attributes)) if (a.kind === 'graph') consumed(a.value, into);
  }
  return into;
}

/**
 * `g`'s nodes and the initializers they read, with its inputs bound to outer values (`bind`), the
 * outputs named in `bind` renamed, and every other name prefixed. The bundle graphs carry every
 * parameter of the model (the encoder graph the decoder's too); the unread ones are dropped.
 */
function inline(
  g: ProtoGraph,
  prefix: string,
  bind: ReadonlyMap<string, string>,
): { nodes: ProtoNode[]; initializers: ProtoTensor[] } {
  for (const v of g.inputs)
    if (!bind.has(v.name)) throw new OrtBeamSearchError(`${g.name}: input ${v.name} is not bound`);
  const r = renamed(g, (n) => bind.get(n) ?? `${prefix}${n}`);
  const read = consumed(r);
  return { nodes: [...r.nodes], initializers: r.initializers.filter((t) => read.has(t.name)) };
}

const node = (
  opType: string,
  inputs: string[],
  outputs: string[],
  attributes: Record<string, ProtoAttribute> = {},
): ProtoNode => ({ opType, name: `${outputs[0]}#node`, inputs, outputs, attributes });

const castTo64 = (from: string, to: string): ProtoNode =>
  node('Cast', [from], [to], { to: { kind: 'int', value: ELEM.i64 } });

const i64 = (name: string, values: number[]): ProtoTensor => ({
  name,
  dtype: 'i64',
  dims: [values.length],
  data: BigInt64Array.from(values, BigInt),
});

const flag = (name: string, value: boolean): ProtoTensor => ({
  name,
  dtype: 'bool',
  dims: [1],
  data: Uint8Array.of(value ? 1 : 0),
});

/** Subgraph value names for layer i's cache, in the op's order: all self pasts, then all cross pasts. */
function kvNames(layers: number, kind: 'past' | 'present', part: 'self' | 'cross'): string[] {
  return Array.from({ length: layers }, (_, i) => [
    `${kind}_key_${part}_${i}`,
    `${kind}_value_${part}_${i}`,
  ]).flat();
}

/** The merged decoder's cache name for layer i, part and kv, with our prefix. */
const mergedName = (prefix: string, i: number, part: 'decoder' | 'encoder', kv: 'key' | 'value'): string =>
  `${prefix}.${i}.${part}.${kv}`;

interface Subgraph {
  name: string;
  nodes: ProtoNode[];
  initializers: ProtoTensor[];
  inputs: Io[];
  outputs: Io[];
}

/** The op's encoder subgraph: our encoder, then the merged decoder's first step on an empty past. */
function encoderSubgraph(c: TransformerConfig, params: Float32Array): Subgraph {
  const L = c.decoderLayers;
  const H = c.heads;
  const K = c.dModel / H;
  const enc = inline(
    encoderGraph(c, params).toProto(),
    'enc/',
    new Map([
      ['input_ids', 'ids64'],
      ['attention_mask', 'mask64'],
      ['last_hidden_state', 'encoder_hidden_states'],
    ]),
  );
  const bind = new Map([
    ['input_ids', 'dec_ids64'],
    ['encoder_attention_mask', 'mask64'],
    ['encoder_hidden_states', 'encoder_hidden_states'],
    ['use_cache_branch', 'use_cache_false'],
    ['logits', 'logits'],
  ]);
  for (let i = 0; i < L; i++)
    for (const kv of ['key', 'value'] as const) {
      bind.set(mergedName('past_key_values', i, 'decoder', kv), 'empty_kv');
      bind.set(mergedName('past_key_values', i, 'encoder', kv), 'empty_kv');
      bind.set(mergedName('present', i, 'decoder', kv), `present_${kv}_self_${i}`);
      bind.set(mergedName('present', i, 'encoder', kv), `present_${kv}_cross_${i}`);
    }
  const dec = inline(decoderGraph(c, params).toProto(), 'dec/', bind);
  // The empty past [B, H, 0, K] f32, B read from the source ids.
  const prelude = [
    castTo64('encoder_input_ids', 'ids64'),
    castTo64('encoder_attention_mask', 'mask64'),
    castTo64('decoder_input_ids', 'dec_ids64'),
    node('Shape', ['ids64'], ['ids_shape']),
    node('Slice', ['ids_shape', 'zero_1', 'one_1'], ['batch_1']),
    node('Concat', ['batch_1', 'heads_0_width'], ['empty_kv_shape'], { axis: { kind: 'int', value: 0 } }),
    node('ConstantOfShape', ['empty_kv_shape'], ['empty_kv'], {
      value: { kind: 'tensor', value: { name: 'value', dtype: 'f32', dims: [1], data: Float32Array.of(0) } },
    }),
  ];
  const B = 'batch';
  const S = 'encode_sequence_length';
  return {
    name: 'beam_encoder',
    nodes: [...prelude, ...enc.nodes, ...dec.nodes],
    initializers: [
      i64('zero_1', [0]),
      i64('one_1', [1]),
      i64('heads_0_width', [H, 0, K]),
      flag('use_cache_false', false),
      ...enc.initializers,
      ...dec.initializers,
    ],
    inputs: [
      { name: 'encoder_input_ids', elem: 'i32', dims: [B, S] },
      { name: 'encoder_attention_mask', elem: 'i32', dims: [B, S] },
      { name: 'decoder_input_ids', elem: 'i32', dims: [B, 1] },
    ],
    outputs: [
      { name: 'logits', elem: 'f32', dims: [B, 1, c.vocabSize] },
      { name: 'encoder_hidden_states', elem: 'f32', dims: [B, S, c.dModel] },
      ...kvNames(L, 'present', 'self').map((name): Io => ({ name, elem: 'f32', dims: [B, H, 1, K] })),
      ...kvNames(L, 'present', 'cross').map((name): Io => ({ name, elem: 'f32', dims: [B, H, S, K] })),
    ],
  };
}

/** The op's decoder subgraph: the merged decoder's cached step. */
function decoderSubgraph(c: TransformerConfig, params: Float32Array): Subgraph {
  const L = c.decoderLayers;
  const H = c.heads;
  const K = c.dModel / H;
  const bind = new Map([
    ['input_ids', 'ids64'],
    ['encoder_attention_mask', 'mask64'],
    ['encoder_hidden_states', 'encoder_hidden_states'],
    ['use_cache_branch', 'use_cache_true'],
    ['logits', 'logits'],
  ]);
  for (let i = 0; i < L; i++)
    for (const kv of ['key', 'value'] as const) {
      bind.set(mergedName('past_key_values', i, 'decoder', kv), `past_${kv}_self_${i}`);
      bind.set(mergedName('past_key_values', i, 'encoder', kv), `past_${kv}_cross_${i}`);
      bind.set(mergedName('present', i, 'decoder', kv), `present_${kv}_self_${i}`);
    }
  const dec = inline(decoderGraph(c, params).toProto(), 'dec/', bind);
  const B = 'batch';
  const S = 'encode_sequence_length';
  const P = 'past_decode_sequence_length';
  return {
    name: 'beam_decoder',
    nodes: [castTo64('input_ids', 'ids64'), castTo64('encoder_attention_mask', 'mask64'), ...dec.nodes],
    initializers: [flag('use_cache_true', true), ...dec.initializers],
    inputs: [
      { name: 'input_ids', elem: 'i32', dims: [B, 1] },
      { name: 'encoder_attention_mask', elem: 'i32', dims: [B, S] },
      { name: 'encoder_hidden_states', elem: 'f32', dims: [B, S, c.dModel] },
      ...kvNames(L, 'past', 'self').map((name): Io => ({ name, elem: 'f32', dims: [B, H, P, K] })),
      ...kvNames(L, 'past', 'cross').map((name): Io => ({ name, elem: 'f32', dims: [B, H, S, K] })),
    ],
    outputs: [
      { name: 'logits', elem: 'f32', dims: [B, 1, c.vocabSize] },
      ...kvNames(L, 'present', 'self').map((name): Io => ({ name, elem: 'f32', dims: [B, H, `${P}+1`, K] })),
    ],
  };
}

// ---- protobuf wire pieces that model-proto.ts does not cover: i32 declarations, node domains and a
// second opset import. Field numbers follow onnx/onnx.proto.

function writeIo(w: BinaryWriter, field: number, v: Io): void {
  w.uint32((field << 3) | 2).fork();
  w.uint32((1 << 3) | 2).string(v.name);
  w.uint32((2 << 3) | 2).fork(); // TypeProto
  w.uint32((1 << 3) | 2).fork(); // tensor_type
  w.uint32((1 << 3) | 0).int32(ELEM[v.elem]);
  w.uint32((2 << 3) | 2).fork(); // shape
  for (const d of v.dims) {
    w.uint32((1 << 3) | 2).fork();
    if (typeof d === 'number') w.uint32((1 << 3) | 0).int64(d);
    else w.uint32((2 << 3) | 2).string(d);
    w.join();
  }
  w.join().join().join().join();
}

/** GraphProto bytes of a subgraph: model-proto.ts writes nodes and initializers, we add the i/o. */
function subgraphBytes(s: Subgraph): Uint8Array {
  const model = encodeModel({
    graph: {
      name: s.name,
      nodes: s.nodes,
      initializers: s.initializers,
      inputs: [],
      outputs: [],
      valueInfo: [],
    },
  });
  const r = new BinaryReader(model);
  let body: Uint8Array | undefined;
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field === 7 && wire === WireType.LengthDelimited) body = r.bytes();
    else r.skip(wire, field);
  }
  if (body === undefined) throw new OrtBeamSearchError(`${s.name}: no graph in the encoded model`);
  const w = new BinaryWriter();
  w.raw(body);
  for (const v of s.inputs) writeIo(w, 11, v);
  for (const v of s.outputs) writeIo(w, 12, v);
  return w.finish();
}

/** The special tokens the op needs. */
export interface TokenIds {
  decoderStart: number;
  eos: number;
  pad: number;
}

/** The whole model: one BeamSearch node over the two subgraphs (`early_stopping` is an attribute). */
export function beamSearchModel(
  c: TransformerConfig,
  params: Float32Array,
  t: TokenIds,
  earlyStopping: boolean,
): Uint8Array {
  const ints: [string, number][] = [
    ['model_type', 1],
    ['decoder_start_token_id', t.decoderStart],
    ['eos_token_id', t.eos],
    ['pad_token_id', t.pad],
    ['vocab_size', c.vocabSize],
    ['no_repeat_ngram_size', 0],
    ['early_stopping', earlyStopping ? 1 : 0],
  ];
  const graphs: [string, Uint8Array][] = [
    ['encoder', subgraphBytes(encoderSubgraph(c, params))],
    ['decoder', subgraphBytes(decoderSubgraph(c, params))],
  ];
  const inputs: Io[] = [
    { name: 'input_ids', elem: 'i32', dims: ['batch', 'source_length'] },
    { name: 'max_length', elem: 'i32', dims: [1] },
    { name: 'min_length', elem: 'i32', dims: [1] },
    { name: 'num_beams', elem: 'i32', dims: [1] },
    { name: 'num_return_sequences', elem: 'i32', dims: [1] },
    { name: 'length_penalty', elem: 'f32', dims: [1] },
    { name: 'vocab_mask', elem: 'i32', dims: [c.vocabSize] },
    { name: 'attention_mask', elem: 'i32', dims: ['batch', 'source_length'] },
  ];
  const outputs: Io[] = [
    { name: 'sequences', elem: 'i32', dims: ['batch', 'return', 'max_length'] },
    { name: 'sequences_scores', elem: 'f32', dims: ['batch', 'return'] },
  ];
  // BeamSearch inputs by position; '' skips repetition_penalty and prefix_vocab_mask. min_length is
  // optional by the schema but required at run time: `BeamSearchBase::Initialize`
  // (beam_search_impl_base.h) checks input 2 under the name "max_length".
  const nodeInputs = [
    'input_ids',
    'max_length',
    'min_length',
    'num_beams',
    'num_return_sequences',
    'length_penalty',
    '',
    'vocab_mask',
    '',
    'attention_mask',
  ];
  const w = new BinaryWriter();
  w.uint32((1 << 3) | 0).int64(8); // ir_version
  w.uint32((2 << 3) | 2).string('@rest/runtime ort-beam-search');
  w.uint32((7 << 3) | 2).fork(); // graph
  w.uint32((1 << 3) | 2).fork(); // node
  for (const i of nodeInputs) w.uint32((1 << 3) | 2).string(i);
  for (const o of outputs) w.uint32((2 << 3) | 2).string(o.name);
  w.uint32((3 << 3) | 2).string('beam_search');
  w.uint32((4 << 3) | 2).string('BeamSearch');
  for (const [name, value] of ints) {
    w.uint32((5 << 3) | 2).fork();
    w.uint32((1 << 3) | 2).string(name);
    w.uint32((20 << 3) | 0).int32(2); // INT
    w.uint32((3 << 3) | 0).int64(value);
    w.join();
  }
  for (const [name, bytes] of graphs) {
    w.uint32((5 << 3) | 2).fork();
    w.uint32((1 << 3) | 2).string(name);
    w.uint32((20 << 3) | 0).int32(5); // GRAPH
    w.uint32((6 << 3) | 2).bytes(bytes);
    w.join();
  }
  w.uint32((7 << 3) | 2).string('com.microsoft');
  w.join();
  w.uint32((2 << 3) | 2).string('beam_search_model');
  for (const v of inputs) writeIo(w, 11, v);
  for (const v of outputs) writeIo(w, 12, v);
  w.join();
  for (const [domain, version] of [
    ['', 18],
    ['com.microsoft', 1],
  ] as const) {
    w.uint32((8 << 3) | 2).fork();
    w.uint32((1 << 3) | 2).string(domain);
    w.uint32((2 << 3) | 0).int64(version);
    w.join();
  }
  return w.finish();
}
