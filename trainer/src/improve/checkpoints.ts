/**
 * Checkpoints of an Improve step: the trainer state (parameters, AdamW moments, step), the best
 * validation parameters so far, GOLD's lagged copy, and the loop's progress (epoch cursor, tokens
 * seen, validation history). A restart loads the latest one and continues at its step, so steps run
 * after it are redone, never counted twice.
 *
 * Everything parameter-sized goes into one safetensors file, as extra "slots" of the trainer state
 * (`best`, `lagged`), so `loadCheckpoint` checks their shapes against the table like the moments.
 * Stores publish a checkpoint atomically: a reader sees the previous one or the new one, never a mix.
 */
import { mkdir, readFile, rename, rm, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadCheckpoint, saveCheckpoint, type ParamTable, type TrainState } from '@rest/runtime';

/** One validation of the policy. */
export interface EvalPoint {
  /** Optimizer step it was taken at (0: the starting policy). */
  readonly step: number;
  /** Mean reward of the policy's validation outputs. */
  readonly reward: number;
  /** Corpus BLEU of those outputs against the references; NaN when there are none. */
  readonly bleu: number;
  /** Training loss averaged over the steps since the previous validation (NaN at step 0). */
  readonly loss: number;
}

/** The loop's position and record, saved with each checkpoint. */
export interface LoopProgress {
  /** Identifies the job and data the checkpoint belongs to (see executor.ts `fingerprint`). */
  readonly fingerprint: string;
  step: number;
  /** Uniform sampling: the epoch and the batches of it already taken. */
  epoch: number;
  batchInEpoch: number;
  /** Target tokens trained on (mask sum, online samples included). */
  tokensSeen: number;
  /** Training loss summed over the steps since the last validation, and their count. */
  lossSinceEval: { sum: number; steps: number };
  /** The best validation so far (step ≥ 1), or null before the first. */
  best: EvalPoint | null;
  history: EvalPoint[];
}

/** A checkpoint as the executor reads and writes it. */
export interface Checkpoint {
  readonly progress: LoopProgress;
  /** Parameters, optimizer slots and step; `slots` may also hold `best` and `lagged`. */
  readonly state: TrainState;
}

/** Where checkpoints of one Improve step live. */
export interface CheckpointStore {
  /** The latest checkpoint, or null when there is none. Throws CheckpointError for a torn or misfit file. */
  load(table: ParamTable): Promise<Checkpoint | null>;
  /** Publishes `checkpoint` as the latest; the previous one may be dropped. */
  save(table: ParamTable, checkpoint: Checkpoint): Promise<void>;
  /** Removes every checkpoint (after the step's result is stored). */
  clear(): Promise<void>;
}

const STATE_FILE = 'state.safetensors';
const PROGRESS_FILE = 'progress.json';
const POINTER = 'latest.json';

/** Writes a checkpoint's two files into `dir` (which must exist). */
export async function writeCheckpointFiles(dir: string, table: ParamTable, c: Checkpoint): Promise<void> {
  await saveCheckpoint(join(dir, STATE_FILE), table, c.state);
  await writeFile(join(dir, PROGRESS_FILE), JSON.stringify(c.progress) + '\n');
}

/** Reads the two files of a checkpoint folder. */
export async function readCheckpointFiles(dir: string, table: ParamTable): Promise<Checkpoint> {
  const state = await loadCheckpoint(join(dir, STATE_FILE), table);
  const progress = JSON.parse(await readFile(join(dir, PROGRESS_FILE), 'utf8')) as LoopProgress;
  return { state, progress };
}

/** The file names of a checkpoint, for stores that keep them elsewhere (GridFS). */
export const CHECKPOINT_FILES = [STATE_FILE, PROGRESS_FILE] as const;

/**
 * Checkpoints in a local folder: `ckpt-<step>/` folders and `latest.json` naming the current one,
 * replaced by a rename (atomic on POSIX). Used by `rest train`; the service keeps them in GridFS.
 */
export class FolderCheckpointStore implements CheckpointStore {
  constructor(private readonly dir: string) {}

  async load(table: ParamTable): Promise<Checkpoint | null> {
    let name: string;
    try {
      name = (JSON.parse(await readFile(join(this.dir, POINTER), 'utf8')) as { dir: string }).dir;
    } catch {
      return null;
    }
    return readCheckpointFiles(join(this.dir, name), table);
  }

  async save(table: ParamTable, c: Checkpoint): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const name = `ckpt-${c.progress.step}`;
    const tmp = join(this.dir, `.${name}.tmp`);
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp);
    await writeCheckpointFiles(tmp, table, c);
    await rm(join(this.dir, name), { recursive: true, force: true });
    await rename(tmp, join(this.dir, name));
    const pointerTmp = join(this.dir, `.${POINTER}.tmp`);
    await writeFile(pointerTmp, JSON.stringify({ dir: name }) + '\n');
    await rename(pointerTmp, join(this.dir, POINTER));
    for (const entry of await readdir(this.dir))
      if (entry.startsWith('ckpt-') && entry !== name)
        await rm(join(this.dir, entry), { recursive: true, force: true });
  }

  async clear(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
