/**
 * Checkpoints in the safetensors format (8-byte little-endian header length, JSON header with dtype,
 * shape and data_offsets per tensor, then raw little-endian data), readable by the `safetensors`
 * Python package and Hugging Face tools. Parameters are stored under their own names, optimizer slots
 * as `<slot>.<name>`, and the step in `__metadata__`. Writes go to a temp file renamed into place, so
 * a crash never leaves a torn checkpoint.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import type { FlatBuffer, ParamTable } from '../params/param-table.js';
import type { TrainState } from '../optim/trainer.js';

/** A checkpoint file is malformed or does not fit the table. */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

const ST_DTYPE = { f32: 'F32', f64: 'F64' } as const;

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Writes `state` for `table` to `path` atomically (temp file + rename). */
export async function saveCheckpoint(path: string, table: ParamTable, state: TrainState): Promise<void> {
  const dtype = state.params instanceof Float64Array ? 'f64' : 'f32';
  const header: Record<string, HeaderEntry | Record<string, string>> = {
    __metadata__: {
      format: 'rest-runtime',
      step: String(state.step),
      slots: Object.keys(state.slots).join(','),
    },
  };
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const put = (name: string, buf: FlatBuffer): void => {
    for (const e of table.entries) {
      const view = buf.subarray(e.offset, e.offset + e.size);
      const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
      header[`${name}${e.name}`] = {
        dtype: ST_DTYPE[dtype],
        shape: [...e.shape],
        data_offsets: [offset, offset + bytes.length],
      };
      chunks.push(bytes);
      offset += bytes.length;
    }
  };
  put('', state.params);
  for (const [slot, buf] of Object.entries(state.slots)) put(`${slot}.`, buf);
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // keep data 8-byte aligned
  const head = new Uint8Array(8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(json.length), true);
  head.set(new TextEncoder().encode(json), 8);
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writev([head, ...chunks]);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  await rename(tmp, path);
}

/** Reads a checkpoint written by {@link saveCheckpoint}; throws CheckpointError when it does not fit `table`. */
export async function loadCheckpoint(path: string, table: ParamTable): Promise<TrainState> {
  const file = await readFile(path);
  if (file.length < 8) throw new CheckpointError(`${path}: too short`);
  const n = Number(file.readBigUInt64LE(0));
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(file.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  } catch (cause) {
    throw new CheckpointError(`${path}: header is not JSON`, { cause });
  }
  const meta = (header.__metadata__ ?? {}) as Record<string, string>;
  const step = Number(meta.step ?? NaN);
  if (!Number.isInteger(step)) throw new CheckpointError(`${path}: no step in __metadata__`);
  const data = file.subarray(8 + n);
  let dtype: 'f32' | 'f64' | undefined;
  const read = (prefix: string): FlatBuffer => {
    const entry0 = header[`${prefix}${table.entries[0]?.name}`] as HeaderEntry | undefined;
    dtype ??= entry0?.dtype === 'F64' ? 'f64' : 'f32';
    const out = dtype === 'f64' ? new Float64Array(table.size) : new Float32Array(table.size);
    const bytes = new Uint8Array(out.buffer);
    for (const e of table.entries) {
      const h = header[`${prefix}${e.name}`] as HeaderEntry | undefined;
      if (h === undefined) throw new CheckpointError(`${path}: missing ${prefix}${e.name}`);
      if (h.dtype !== ST_DTYPE[dtype] || h.shape.join(',') !== e.shape.join(','))
        throw new CheckpointError(
          `${path}: ${prefix}${e.name} is ${h.dtype} [${h.shape.join(', ')}], expected ${ST_DTYPE[dtype]} [${e.shape.join(', ')}]`,
        );
      const [b, end] = h.data_offsets;
      bytes.set(data.subarray(b, end), e.offset * out.BYTES_PER_ELEMENT);
    }
    return out;
  };
  const params = read('');
  const slots: Record<string, FlatBuffer> = {};
  for (const slot of (meta.slots ?? '').split(',').filter((s) => s !== '')) slots[slot] = read(`${slot}.`);
  return { step, params, slots };
}
