/**
 * Bundle storage in GridFS (bucket `bundles`), published by a manifest document.
 *
 * Files are uploaded first, each tagged with its bundle id; the manifest (collection
 * `bundle_manifests`, `_id` = bundle id) is inserted last, and only bundles with a manifest are
 * visible. A failed put deletes what it uploaded; a crashed one leaves orphan files that no manifest
 * names, invisible to readers and removed by `deleteOrphans`. Two writers racing on one id both
 * upload, one manifest insert wins, and the loser deletes its files and returns the winner's manifest.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GridFSBucket, ObjectId, type Collection, type Db } from 'mongodb';
import { NotFoundError } from '@rest/service-kit';
import { BUNDLE_BUCKET, COLLECTIONS } from './collections.js';
import {
  type BundleFileEntry,
  type BundleFileInput,
  type BundleManifest,
  type BundleStorage,
  checkBundleNames,
  chunksOf,
} from './bundle-storage.js';
import { isDuplicateKeyError } from './mongo-errors.js';

/** GridFS chunk size: fewer, larger chunks upload faster on FerretDB. @default 4 MiB */
const CHUNK_BYTES = 4 * 1024 * 1024;

interface ManifestDoc {
  readonly _id: string;
  readonly files: readonly BundleFileEntry[];
  readonly createdAt: Date;
}

/** {@link BundleStorage} over GridFS. */
export class GridFsBundleStorage implements BundleStorage {
  private readonly bucket: GridFSBucket;
  private readonly manifests: Collection<ManifestDoc>;

  constructor(db: Db) {
    this.bucket = new GridFSBucket(db, { bucketName: BUNDLE_BUCKET, chunkSizeBytes: CHUNK_BYTES });
    this.manifests = db.collection<ManifestDoc>(COLLECTIONS.bundleManifests);
  }

  async put(
    bundleId: string,
    files: Iterable<BundleFileInput> | AsyncIterable<BundleFileInput>,
  ): Promise<BundleManifest> {
    checkBundleNames(bundleId);
    const existing = await this.manifest(bundleId);
    if (existing !== null) return existing;
    const entries: BundleFileEntry[] = [];
    try {
      for await (const file of files) {
        checkBundleNames(bundleId, [...entries.map((e) => e.name), file.name]);
        entries.push(await this.upload(bundleId, file));
      }
      checkBundleNames(
        bundleId,
        entries.map((e) => e.name),
      );
      const doc: ManifestDoc = { _id: bundleId, files: entries, createdAt: new Date() };
      await this.manifests.insertOne(doc);
      return toManifest(doc);
    } catch (err) {
      await this.removeFiles(entries);
      if (isDuplicateKeyError(err)) {
        const winner = await this.manifest(bundleId);
        if (winner !== null) return winner;
      }
      throw err;
    }
  }

  async has(bundleId: string): Promise<boolean> {
    return (await this.manifests.countDocuments({ _id: bundleId }, { limit: 1 })) > 0;
  }

  async manifest(bundleId: string): Promise<BundleManifest | null> {
    const doc = await this.manifests.findOne({ _id: bundleId });
    return doc === null ? null : toManifest(doc);
  }

  async list(bundleId: string): Promise<readonly BundleFileEntry[]> {
    const m = await this.manifest(bundleId);
    if (m === null) throw new NotFoundError(`bundle ${bundleId} not found`);
    return m.files;
  }

  async openFile(bundleId: string, name: string): Promise<Readable> {
    const entry = (await this.list(bundleId)).find((e) => e.name === name);
    if (entry === undefined) throw new NotFoundError(`bundle ${bundleId} has no file ${name}`);
    return this.bucket.openDownloadStream(new ObjectId(entry.fileId));
  }

  async readFile(bundleId: string, name: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of await this.openFile(bundleId, name)) parts.push(chunk as Buffer);
    return Buffer.concat(parts);
  }

  async delete(bundleId: string): Promise<boolean> {
    const doc = await this.manifests.findOne({ _id: bundleId });
    if (doc === null) return false;
    await this.manifests.deleteOne({ _id: bundleId });
    await this.removeFiles(doc.files);
    return true;
  }

  /**
   * Deletes files that no manifest names and that were uploaded more than `olderThanMs` ago (left by
   * writers that crashed mid-put). Keep `olderThanMs` above the longest upload.
   * @returns how many files were deleted.
   */
  async deleteOrphans(olderThanMs: number): Promise<number> {
    const cutoff = new Date(Date.now() - olderThanMs);
    const files = await this.bucket.find({ uploadDate: { $lt: cutoff } }).toArray();
    let deleted = 0;
    for (const file of files) {
      const bundleId = (file.metadata as { bundleId?: unknown } | undefined)?.bundleId;
      const doc = typeof bundleId === 'string' ? await this.manifests.findOne({ _id: bundleId }) : null;
      if (doc?.files.some((e) => e.fileId === file._id.toHexString())) continue;
      await this.bucket.delete(file._id);
      deleted++;
    }
    return deleted;
  }

  private async upload(bundleId: string, file: BundleFileInput): Promise<BundleFileEntry> {
    const hash = createHash('sha256');
    let length = 0;
    const stream = this.bucket.openUploadStream(`${bundleId}/${file.name}`, {
      metadata: { bundleId, name: file.name },
    });
    async function* hashed(): AsyncIterable<Uint8Array> {
      for await (const chunk of chunksOf(file.data)) {
        hash.update(chunk);
        length += chunk.byteLength;
        yield chunk;
      }
    }
    try {
      await pipeline(Readable.from(hashed()), stream);
    } catch (err) {
      // The upload stream does not remove chunks it already wrote.
      await this.bucket.delete(stream.id).catch(() => undefined);
      throw err;
    }
    return { name: file.name, length, sha256: hash.digest('hex'), fileId: stream.id.toHexString() };
  }

  private async removeFiles(entries: readonly BundleFileEntry[]): Promise<void> {
    for (const e of entries) {
      await this.bucket.delete(new ObjectId(e.fileId)).catch(() => undefined);
    }
  }
}

function toManifest(doc: ManifestDoc): BundleManifest {
  return { bundleId: doc._id, files: doc.files, createdAt: doc.createdAt };
}
