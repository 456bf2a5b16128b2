/**
 * Bundle storage: a bundle is an immutable set of named files (a policy bundle's `config.json`,
 * `onnx/*.onnx`, trainer state, ...) under one bundle id.
 *
 * Writes are all-or-nothing from a reader's view: implementations write every file first and publish
 * the bundle last with one atomic step (a manifest insert, a directory rename). Readers only see
 * published bundles, so a writer that dies or throws mid-way leaves nothing half-visible. Bundle ids
 * are immutable: putting an id that is already published is a no-op returning the stored manifest.
 */
import type { Readable } from 'node:stream';
import { Violations } from './validate.js';

/** One file of a published bundle. */
export interface BundleFileEntry {
  /** Path within the bundle, `/`-separated, e.g. `onnx/encoder_model.onnx`. */
  readonly name: string;
  /** Size in bytes. */
  readonly length: number;
  /** Hex SHA-256 of the content. */
  readonly sha256: string;
  /** Storage id (GridFS ObjectId in hex, or the path within the folder). */
  readonly fileId: string;
}

/** A published bundle. */
export interface BundleManifest {
  readonly bundleId: string;
  readonly files: readonly BundleFileEntry[];
  readonly createdAt: Date;
}

/** File content to store: bytes, or chunks (a `Readable` is an async iterable of them). */
export type BundleFileSource = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/** One file to put. */
export interface BundleFileInput {
  readonly name: string;
  readonly data: BundleFileSource;
}

/** Where policy bundles live. */
export interface BundleStorage {
  /**
   * Stores `files` as bundle `bundleId` and publishes it once all are written. If the file source
   * throws, nothing becomes visible and the error is rethrown.
   * @throws InvalidArgumentError for a bad id, a bad or duplicate file name, or no files.
   */
  put(
    bundleId: string,
    files: Iterable<BundleFileInput> | AsyncIterable<BundleFileInput>,
  ): Promise<BundleManifest>;
  /** True when the bundle is published. */
  has(bundleId: string): Promise<boolean>;
  /** The manifest of a published bundle, or null. */
  manifest(bundleId: string): Promise<BundleManifest | null>;
  /**
   * The files of a published bundle.
   * @throws NotFoundError when it is not published.
   */
  list(bundleId: string): Promise<readonly BundleFileEntry[]>;
  /**
   * A stream of one file's bytes.
   * @throws NotFoundError when the bundle or file does not exist.
   */
  openFile(bundleId: string, name: string): Promise<Readable>;
  /**
   * One file's bytes in memory (for small files such as `config.json`).
   * @throws NotFoundError when the bundle or file does not exist.
   */
  readFile(bundleId: string, name: string): Promise<Buffer>;
  /** Unpublishes, then removes a bundle. @returns false when it did not exist. */
  delete(bundleId: string): Promise<boolean>;
}

/** Bundle ids: same alphabet as other ids. */
const BUNDLE_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
/** One segment of a file name. */
const SEGMENT = /^[A-Za-z0-9_.+=@-]{1,128}$/;

/**
 * Checks a bundle id and, when given, file names: relative `/`-separated paths with no empty, `.`
 * or `..` segments, unique within the bundle.
 * @throws InvalidArgumentError listing every problem.
 */
export function checkBundleNames(bundleId: string, names?: readonly string[]): void {
  const v = new Violations();
  if (!BUNDLE_ID.test(bundleId)) v.add('bundleId', 'must be 1-128 characters of [A-Za-z0-9_.:-]');
  if (names !== undefined) {
    if (names.length === 0) v.add('files', 'must not be empty');
    const seen = new Set<string>();
    names.forEach((name, i) => {
      const segments = name.split('/');
      if (name.length > 512 || !segments.every((s) => SEGMENT.test(s) && s !== '.' && s !== '..')) {
        v.add(`files[${i}].name`, 'must be a relative path of [A-Za-z0-9_.+=@-] segments');
      }
      if (seen.has(name)) v.add(`files[${i}].name`, `duplicate name ${name}`);
      seen.add(name);
    });
  }
  v.throwIfAny();
}

/** Turns a file source into chunks (a bare Uint8Array would otherwise iterate byte by byte). */
export async function* chunksOf(data: BundleFileSource): AsyncIterable<Uint8Array> {
  if (data instanceof Uint8Array) yield data;
  else yield* data;
}
