/**
 * Moving bundles between a local folder and bundle storage (GridFS): the trainer downloads the policies
 * it starts from and uploads the bundles and checkpoints it writes; `rest up`/`rest demo` register a
 * base policy folder.
 *
 * Downloads land in a temporary sibling folder renamed into place, and bundle ids are immutable, so a
 * folder that exists is complete and is reused (a cache keyed by bundle id). Every file's SHA-256 is
 * checked against the bundle's manifest as it streams in.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createHash, randomBytes } from 'node:crypto';
import { Transform } from 'node:stream';
import { FailedPreconditionError } from '@rest/service-kit';
import type { BundleFileInput, BundleManifest, BundleStorage } from './bundle-storage.js';

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes the files of bundle `bundleId` into `dir` (complete or not at all); a no-op when `dir` exists.
 * Throws NotFoundError when the bundle is not published, FailedPreconditionError when a file's bytes do
 * not have the SHA-256 its manifest records.
 */
export async function downloadBundle(
  storage: Pick<BundleStorage, 'list' | 'openFile'>,
  bundleId: string,
  dir: string,
): Promise<string> {
  if (await exists(dir)) return dir;
  const files = await storage.list(bundleId);
  await mkdir(dirname(dir), { recursive: true });
  const tmp = `${dir}.tmp-${randomBytes(4).toString('hex')}`;
  try {
    for (const f of files) {
      const path = join(tmp, ...f.name.split('/'));
      await mkdir(dirname(path), { recursive: true });
      const hash = createHash('sha256');
      const tap = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          hash.update(chunk);
          callback(null, chunk);
        },
      });
      await pipeline(await storage.openFile(bundleId, f.name), tap, createWriteStream(path));
      const sha256 = hash.digest('hex');
      if (sha256 !== f.sha256)
        throw new FailedPreconditionError(
          `bundle ${bundleId}: ${f.name} has SHA-256 ${sha256}, its manifest says ${f.sha256}`,
        );
    }
    await rename(tmp, dir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    if (await exists(dir)) return dir; // a racer finished first
    throw e;
  }
  return dir;
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) out.push(relative(dir, path).split(sep).join('/'));
    }
  };
  await walk(dir);
  return out.sort();
}

/** Stores every file under `dir` as bundle `bundleId` (a no-op returning the manifest when it exists). */
export async function uploadBundle(
  storage: BundleStorage,
  bundleId: string,
  dir: string,
): Promise<BundleManifest> {
  const names = await listFiles(dir);
  function* files(): Iterable<BundleFileInput> {
    for (const name of names) yield { name, data: createReadStream(join(dir, ...name.split('/'))) };
  }
  return storage.put(bundleId, files());
}
