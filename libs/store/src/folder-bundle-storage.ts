/**
 * Bundle storage in a local folder, for tests and local runs: `<root>/<bundleId>/<files>` plus a
 * manifest `<root>/<bundleId>/.rest-manifest.json`.
 *
 * A put writes everything into a fresh `<root>/.tmp/<random>/` and publishes it with one directory
 * rename, which is atomic on POSIX file systems within one file system; a crash leaves only a temp
 * folder, which readers never look at. Deletion renames the bundle out of sight before removing it.
 * Not for shared storage across machines.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidArgumentError, NotFoundError } from '@rest/service-kit';
import {
  type BundleFileEntry,
  type BundleFileInput,
  type BundleManifest,
  type BundleStorage,
  checkBundleNames,
  chunksOf,
} from './bundle-storage.js';

const MANIFEST = '.rest-manifest.json';
const TMP = '.tmp';

interface ManifestJson {
  readonly bundleId: string;
  readonly files: readonly BundleFileEntry[];
  readonly createdAt: string;
}

/** {@link BundleStorage} over a local folder. */
export class FolderBundleStorage implements BundleStorage {
  /** @param root the folder holding bundles; created on first put. */
  constructor(private readonly root: string) {}

  async put(
    bundleId: string,
    files: Iterable<BundleFileInput> | AsyncIterable<BundleFileInput>,
  ): Promise<BundleManifest> {
    checkBundleNames(bundleId);
    const existing = await this.manifest(bundleId);
    if (existing !== null) return existing;
    const tmp = join(this.root, TMP, randomBytes(8).toString('hex'));
    await mkdir(tmp, { recursive: true });
    try {
      const entries: BundleFileEntry[] = [];
      for await (const file of files) {
        checkBundleNames(bundleId, [...entries.map((e) => e.name), file.name]);
        if (file.name === MANIFEST) throw new InvalidArgumentError(`file name ${MANIFEST} is reserved`);
        entries.push(await writeOne(tmp, file));
      }
      checkBundleNames(
        bundleId,
        entries.map((e) => e.name),
      );
      const manifest: ManifestJson = { bundleId, files: entries, createdAt: new Date().toISOString() };
      await writeFile(join(tmp, MANIFEST), JSON.stringify(manifest));
      try {
        await rename(tmp, this.dir(bundleId));
      } catch (err) {
        const winner = await this.manifest(bundleId);
        if (winner !== null) return winner;
        throw err;
      }
      return toManifest(manifest);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  async has(bundleId: string): Promise<boolean> {
    return (await this.manifest(bundleId)) !== null;
  }

  async manifest(bundleId: string): Promise<BundleManifest | null> {
    checkBundleNames(bundleId);
    try {
      return toManifest(
        JSON.parse(await readFile(join(this.dir(bundleId), MANIFEST), 'utf8')) as ManifestJson,
      );
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async list(bundleId: string): Promise<readonly BundleFileEntry[]> {
    const m = await this.manifest(bundleId);
    if (m === null) throw new NotFoundError(`bundle ${bundleId} not found`);
    return m.files;
  }

  async openFile(bundleId: string, name: string): Promise<Readable> {
    const path = await this.pathOf(bundleId, name);
    // Open eagerly so a file removed meanwhile fails here, not on the first read.
    await stat(path);
    return createReadStream(path);
  }

  async readFile(bundleId: string, name: string): Promise<Buffer> {
    return readFile(await this.pathOf(bundleId, name));
  }

  async delete(bundleId: string): Promise<boolean> {
    if (!(await this.has(bundleId))) return false;
    const trash = join(this.root, TMP, `deleted-${randomBytes(8).toString('hex')}`);
    await mkdir(dirname(trash), { recursive: true });
    try {
      await rename(this.dir(bundleId), trash);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    await rm(trash, { recursive: true, force: true });
    return true;
  }

  private dir(bundleId: string): string {
    return join(this.root, bundleId);
  }

  private async pathOf(bundleId: string, name: string): Promise<string> {
    const entry = (await this.list(bundleId)).find((e) => e.name === name);
    if (entry === undefined) throw new NotFoundError(`bundle ${bundleId} has no file ${name}`);
    return join(this.dir(bundleId), entry.fileId);
  }
}

async function writeOne(dir: string, file: BundleFileInput): Promise<BundleFileEntry> {
  const path = join(dir, file.name);
  await mkdir(dirname(path), { recursive: true });
  const hash = createHash('sha256');
  let length = 0;
  async function* hashed(): AsyncIterable<Uint8Array> {
    for await (const chunk of chunksOf(file.data)) {
      hash.update(chunk);
      length += chunk.byteLength;
      yield chunk;
    }
  }
  await pipeline(Readable.from(hashed()), createWriteStream(path));
  return { name: file.name, length, sha256: hash.digest('hex'), fileId: file.name };
}

function toManifest(m: ManifestJson): BundleManifest {
  return { bundleId: m.bundleId, files: m.files, createdAt: new Date(m.createdAt) };
}
