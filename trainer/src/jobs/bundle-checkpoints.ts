/**
 * Checkpoints of a service job in bundle storage (GridFS), so that whichever replica resumes the job
 * finds them. Each checkpoint is its own immutable bundle `ckpt.<job>.<step>.<nonce>` (published
 * atomically by the storage); the job document names the current one, and the previous one is deleted
 * after the pointer moved. A crash between the two leaves an orphan bundle, never a torn checkpoint.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { ParamTable } from '@rest/runtime';
import { downloadBundle, uploadBundle, type BundleStorage } from '@rest/store';
import {
  readCheckpointFiles,
  writeCheckpointFiles,
  type Checkpoint,
  type CheckpointStore,
} from '../improve/checkpoints.js';
import type { JobRepo } from './job-repo.js';

/** {@link CheckpointStore} over bundle storage and the job document. */
export class BundleCheckpointStore implements CheckpointStore {
  private readonly tag: string;

  constructor(
    private readonly storage: BundleStorage,
    private readonly jobs: JobRepo,
    private readonly jobId: string,
    /** Local scratch folder (written and emptied here). */
    private readonly scratch: string,
  ) {
    // Job ids may hold characters bundle ids may not: a digest names the job's checkpoints.
    this.tag = createHash('sha256').update(jobId).digest('hex').slice(0, 20);
  }

  async load(table: ParamTable): Promise<Checkpoint | null> {
    const job = await this.jobs.get(this.jobId);
    if (job?.checkpoint == null) return null;
    const dir = join(this.scratch, `load-${randomBytes(4).toString('hex')}`);
    try {
      await downloadBundle(this.storage, job.checkpoint.bundleId, dir);
      return await readCheckpointFiles(dir, table);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async save(table: ParamTable, c: Checkpoint): Promise<void> {
    const step = c.progress.step;
    const bundleId = `ckpt.${this.tag}.${step}.${randomBytes(4).toString('hex')}`;
    const dir = join(this.scratch, `save-${step}`);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    try {
      await writeCheckpointFiles(dir, table, c);
      await uploadBundle(this.storage, bundleId, dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const previous = (await this.jobs.get(this.jobId))?.checkpoint ?? null;
    await this.jobs.update(this.jobId, { checkpoint: { bundleId, step } });
    if (previous !== null) await this.storage.delete(previous.bundleId);
  }

  async clear(): Promise<void> {
    const current = (await this.jobs.get(this.jobId))?.checkpoint ?? null;
    await this.jobs.update(this.jobId, { checkpoint: null });
    if (current !== null) await this.storage.delete(current.bundleId);
  }
}
