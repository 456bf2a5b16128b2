/**
 * The element types the graph builder knows, their ONNX `TensorProto.DataType` codes, byte sizes and
 * the typed arrays that hold them. Deliberately small: the engine trains in f32/f64, indexes with i64
 * and masks with bool; anything else is out of scope.
 */

/** A tensor element type. */
export type DType = 'f32' | 'f64' | 'i64' | 'bool';

/** The typed array that holds the elements of each dtype. */
export interface TypedArrayOf {
  f32: Float32Array;
  f64: Float64Array;
  i64: BigInt64Array;
  bool: Uint8Array;
}

/** ONNX `TensorProto.DataType` codes (onnx.proto). */
export const ONNX_DTYPE = { f32: 1, i64: 7, bool: 9, f64: 11 } as const satisfies Record<DType, number>;

/** Bytes per element. */
export const DTYPE_BYTES = { f32: 4, f64: 8, i64: 8, bool: 1 } as const satisfies Record<DType, number>;

/** onnxruntime-common's names for the dtypes. */
export const ORT_TYPE = {
  f32: 'float32',
  f64: 'float64',
  i64: 'int64',
  bool: 'bool',
} as const satisfies Record<DType, string>;

/** Whether gradients may flow through values of this dtype. */
export function isFloat(dtype: DType): dtype is 'f32' | 'f64' {
  return dtype === 'f32' || dtype === 'f64';
}

/** The little-endian bytes of a typed array (a view, not a copy, on little-endian hosts). */
export function bytesOf(data: Float32Array | Float64Array | BigInt64Array | Uint8Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
