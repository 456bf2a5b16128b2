export { openStore, type OpenStoreOptions, type Store } from './store.js';
export { COLLECTIONS, BUNDLE_BUCKET, ensureIndexes } from './collections.js';
export { isDuplicateKeyError } from './mongo-errors.js';
export {
  DatasetRepo,
  SPLITS,
  type Split,
  type SentenceInput,
  type SentenceDoc,
  type SentenceRange,
} from './dataset-repo.js';
export {
  RunRepo,
  RUN_STATES,
  RUN_TRANSITIONS,
  type RunState,
  type RunSpec,
  type RunFields,
  type RunDoc,
  type RunTransition,
  type RunListQuery,
  type MetricsDoc,
} from './run-repo.js';
export {
  SampleRepo,
  sampleId,
  type SampleInput,
  type SampleDoc,
  type SampleQuery,
  type RewardInput,
  type UpsertCounts,
} from './sample-repo.js';
export {
  ShardRepo,
  shardId,
  type ShardScope,
  type ShardExample,
  type ShardInput,
  type ShardDoc,
  type ShardLease,
  type MaterializeOptions,
} from './shard-repo.js';
export {
  LeaseRepo,
  LEASE_STATES,
  type LeaseState,
  type LeaseDoc,
  type Lease,
  type AcquireOutcome,
} from './lease-repo.js';
export {
  PolicyRepo,
  type PolicyInput,
  type PolicyDoc,
  type PolicyFile,
  type PolicyListQuery,
} from './policy-repo.js';
export {
  RouteRepo,
  type RouteVariant,
  type RouteShadow,
  type RouteSetOptions,
  type RouteFields,
  type RouteDoc,
} from './route-repo.js';
export type { RevisionDoc } from './revision-log.js';
export {
  checkBundleNames,
  type BundleStorage,
  type BundleManifest,
  type BundleFileEntry,
  type BundleFileInput,
  type BundleFileSource,
} from './bundle-storage.js';
export { GridFsBundleStorage } from './gridfs-bundle-storage.js';
export { FolderBundleStorage } from './folder-bundle-storage.js';
export { downloadBundle, uploadBundle } from './bundle-folders.js';
