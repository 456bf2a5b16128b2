/**
 * `openStore`: one MongoDB connection and every repository of the data model over it.
 */
import { MongoClient, type Db } from 'mongodb';
import { NOOP_LOGGER, type Logger } from '@rest/service-kit';
import { BUNDLE_BUCKET, COLLECTIONS, ensureIndexes } from './collections.js';
import { DatasetRepo, type SentenceDoc } from './dataset-repo.js';
import { GridFsBundleStorage } from './gridfs-bundle-storage.js';
import { LeaseRepo, type LeaseDoc } from './lease-repo.js';
import { mapDriverError } from './mongo-errors.js';
import { PolicyRepo, type PolicyDoc } from './policy-repo.js';
import type { RevisionDoc } from './revision-log.js';
import { RouteRepo, type RouteDoc, type RouteFields } from './route-repo.js';
import { RunRepo, type MetricsDoc, type RunDoc, type RunFields } from './run-repo.js';
import { SampleRepo, type SampleDoc } from './sample-repo.js';
import { ShardRepo, type ShardDoc } from './shard-repo.js';

/** Options of {@link openStore}. */
export interface OpenStoreOptions {
  /** MongoDB connection string, e.g. `mongodb://127.0.0.1:27017/`. */
  readonly uri: string;
  /** Database name. @default 'rest' */
  readonly dbName?: string;
  /** @default NOOP_LOGGER */
  readonly logger?: Logger;
  /** Create indexes on open. @default true */
  readonly ensureIndexes?: boolean;
  /** How long to wait for the server on open, in ms. @default 10000 */
  readonly connectTimeoutMs?: number;
  /** Connection pool size. @default 10 */
  readonly maxPoolSize?: number;
  /** Clock for leases and timestamps, ms since the epoch. @default Date.now */
  readonly now?: () => number;
}

/** The repositories of the data model over one connection. */
export interface Store extends AsyncDisposable {
  readonly db: Db;
  readonly datasets: DatasetRepo;
  readonly runs: RunRepo;
  readonly samples: SampleRepo;
  readonly shards: ShardRepo;
  readonly policies: PolicyRepo;
  readonly routes: RouteRepo;
  readonly bundles: GridFsBundleStorage;
  readonly leases: LeaseRepo;
  /** Creates every index (idempotent). */
  ensureIndexes(): Promise<void>;
  /** Closes the connection. */
  close(): Promise<void>;
}

/**
 * Connects and builds the repositories.
 * @throws UnavailableError when the server cannot be reached within `connectTimeoutMs`.
 */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const logger = (options.logger ?? NOOP_LOGGER).child({ component: 'store' });
  const timeoutMs = options.connectTimeoutMs ?? 10000;
  const client = new MongoClient(options.uri, {
    serverSelectionTimeoutMS: timeoutMs,
    connectTimeoutMS: timeoutMs,
    maxPoolSize: options.maxPoolSize ?? 10,
  });
  try {
    await client.connect();
  } catch (err) {
    await client.close().catch(() => undefined);
    mapDriverError(err, 'openStore');
  }
  const db = client.db(options.dbName ?? 'rest');
  const now = options.now ?? Date.now;
  const leases = new LeaseRepo(db.collection<LeaseDoc>(COLLECTIONS.leases), now);
  const samples = db.collection<SampleDoc>(COLLECTIONS.samples);
  const store: Store = {
    db,
    datasets: new DatasetRepo(db.collection<SentenceDoc>(COLLECTIONS.datasets)),
    runs: new RunRepo(
      db.collection<RunDoc>(COLLECTIONS.runs),
      db.collection<RevisionDoc<RunFields>>(COLLECTIONS.revisions),
      db.collection<MetricsDoc>(COLLECTIONS.runMetrics),
      now,
    ),
    samples: new SampleRepo(samples),
    shards: new ShardRepo(db.collection<ShardDoc>(COLLECTIONS.shards), samples, leases, now),
    policies: new PolicyRepo(db.collection<PolicyDoc>(COLLECTIONS.policies), now),
    routes: new RouteRepo(
      db.collection<RouteDoc>(COLLECTIONS.routes),
      db.collection<RevisionDoc<RouteFields>>(COLLECTIONS.revisions),
      now,
    ),
    bundles: new GridFsBundleStorage(db),
    leases,
    ensureIndexes: () => ensureIndexes(db),
    close: () => client.close(),
    [Symbol.asyncDispose]: () => client.close(),
  };
  if (options.ensureIndexes ?? true) {
    try {
      await store.ensureIndexes();
    } catch (err) {
      await client.close().catch(() => undefined);
      mapDriverError(err, 'openStore: ensureIndexes');
    }
  }
  logger.debug('store opened', { db: db.databaseName, bucket: BUNDLE_BUCKET });
  return store;
}
