/**
 * Where policies come from: the registry (the `policies` collection plus bundle storage) and local
 * bundle folders named in config. The catalog answers "does policy X exist, and what is it", lists
 * policies, and turns a policy into a local folder that `Seq2SeqModel.load` can open: a local policy
 * is its own folder; a registry policy's bundle is downloaded once into the cache folder.
 *
 * Downloads are verified (each file's SHA-256 against the bundle manifest), written into a temporary
 * sibling and renamed into place, so a crash mid-download never leaves a folder that looks complete.
 * Bundle ids are immutable, so a folder that exists is current. The catalog does not load models
 * (see ModelPool) and keeps no list of registry policies in memory: MongoDB is the truth, asked
 * each time.
 */
import { stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { readBundleManifest } from '@rest/runtime';
import { FailedPreconditionError, type Logger } from '@rest/service-kit';
import { downloadBundle, type BundleStorage, type PolicyDoc, type PolicyRepo } from '@rest/store';

/** A policy the server can serve, from either source. */
export interface PolicyRecord {
  readonly id: string;
  /** Empty when none. */
  readonly parentId: string;
  /** Empty when not produced by a run. */
  readonly runId: string;
  readonly grow: number;
  readonly improve: number;
  readonly metrics: Readonly<Record<string, number>>;
  /** Bundle id in bundle storage; for a local policy, its folder. */
  readonly bundleId: string;
  readonly createdAt: Date;
  readonly origin: 'registry' | 'local';
}

/** The parts of the store the catalog reads. */
export interface Registry {
  readonly policies: Pick<PolicyRepo, 'get' | 'list'>;
  readonly bundles: Pick<BundleStorage, 'list' | 'openFile'>;
}

/** Options of {@link PolicyCatalog.open}. */
export interface PolicyCatalogOptions {
  /** The registry; undefined serves local folders only. */
  readonly registry: Registry | undefined;
  /** Local bundle folders. */
  readonly dirs: readonly string[];
  /** Folder registry bundles are downloaded into. */
  readonly cacheDir: string;
  readonly logger: Logger;
}

/** Most registry policies ListPolicies reads (pages of 500 by id) before sorting them newest first. */
const MAX_LISTED = 10_000;

function fromDoc(doc: PolicyDoc): PolicyRecord {
  return {
    id: doc._id,
    parentId: doc.parentId ?? '',
    runId: doc.run ?? '',
    grow: doc.grow,
    improve: doc.improve,
    metrics: doc.metrics,
    bundleId: doc.bundleId,
    createdAt: doc.createdAt,
    origin: 'registry',
  };
}

/** Local folders and the registry, behind one lookup; see the module comment. */
export class PolicyCatalog {
  private readonly downloads = new Map<string, Promise<string>>();

  private constructor(
    private readonly registry: Registry | undefined,
    private readonly local: ReadonlyMap<string, { record: PolicyRecord; dir: string }>,
    private readonly cacheDir: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Reads every local folder's manifest (config, generation config, lineage; not the ONNX files).
   * @throws BundleError for a folder that is not a bundle
   * @throws FailedPreconditionError when two folders claim the same policy id
   */
  static async open(options: PolicyCatalogOptions): Promise<PolicyCatalog> {
    const local = new Map<string, { record: PolicyRecord; dir: string }>();
    for (const dir of options.dirs.map((d) => resolve(d))) {
      const manifest = await readBundleManifest(dir);
      const { lineage } = manifest;
      const id = lineage.policyId ?? basename(dir);
      const seen = local.get(id);
      if (seen !== undefined) {
        throw new FailedPreconditionError(`policies.dirs: ${dir} and ${seen.dir} both hold policy "${id}"`);
      }
      const created = lineage.createdAt === undefined ? NaN : Date.parse(lineage.createdAt);
      const record: PolicyRecord = {
        id,
        parentId: lineage.parentPolicyId ?? '',
        runId: lineage.runId ?? '',
        grow: lineage.growStep ?? 0,
        improve: lineage.improveStep ?? 0,
        metrics: lineage.metrics ?? {},
        bundleId: dir,
        createdAt: new Date(Number.isNaN(created) ? (await stat(dir)).mtimeMs : created),
        origin: 'local',
      };
      local.set(id, { record, dir });
    }
    const logger = options.logger.child({ component: 'catalog' });
    logger.info('policy catalog', { local: [...local.keys()], registry: options.registry !== undefined });
    return new PolicyCatalog(options.registry, local, resolve(options.cacheDir), logger);
  }

  /** Ids of the local policies. */
  get localIds(): readonly string[] {
    return [...this.local.keys()];
  }

  /** The policy `id`, or undefined when neither source has it. A local folder wins over the registry. */
  async find(id: string): Promise<PolicyRecord | undefined> {
    const local = this.local.get(id);
    if (local !== undefined) return local.record;
    if (this.registry === undefined) return undefined;
    const doc = await this.registry.policies.get(id);
    return doc === null ? undefined : fromDoc(doc);
  }

  /**
   * Every policy, newest first (local ones included), optionally only those of one run.
   * @param runId '' for all
   */
  async list(runId: string): Promise<PolicyRecord[]> {
    const out: PolicyRecord[] = [...this.local.values()]
      .map((l) => l.record)
      .filter((r) => runId === '' || r.runId === runId);
    if (this.registry !== undefined) {
      let afterId: string | undefined;
      for (let read = 0; read < MAX_LISTED;) {
        const page = await this.registry.policies.list({
          ...(runId === '' ? {} : { run: runId }),
          ...(afterId === undefined ? {} : { afterId }),
          limit: 500,
        });
        for (const doc of page) if (!this.local.has(doc._id)) out.push(fromDoc(doc));
        read += page.length;
        if (page.length < 500) break;
        afterId = page[page.length - 1]!._id;
      }
    }
    return out.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || a.id.localeCompare(b.id));
  }

  /**
   * A local folder holding the policy's bundle: the policy's own folder, or the registry bundle
   * downloaded into the cache (once; concurrent callers share the download).
   * @throws NotFoundError (from bundle storage) when the bundle is gone
   * @throws FailedPreconditionError when a downloaded file does not match its recorded hash
   */
  folderOf(record: PolicyRecord): Promise<string> {
    const local = this.local.get(record.id);
    if (local !== undefined) return Promise.resolve(local.dir);
    let download = this.downloads.get(record.bundleId);
    if (download === undefined) {
      download = this.download(record.bundleId).finally(() => this.downloads.delete(record.bundleId));
      this.downloads.set(record.bundleId, download);
    }
    return download;
  }

  private async download(bundleId: string): Promise<string> {
    const registry = this.registry;
    if (registry === undefined) throw new FailedPreconditionError('no registry is configured');
    const target = join(this.cacheDir, bundleId);
    if (await exists(target)) return target;
    const startedMs = performance.now();
    // Checked file by file against the manifest's SHA-256; another process sharing the cache folder
    // that finishes the same bundle first is as good.
    await downloadBundle(registry.bundles, bundleId, target);
    this.logger.info('bundle downloaded', {
      bundleId,
      durationMs: Math.round(performance.now() - startedMs),
    });
    return target;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
