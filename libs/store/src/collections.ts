/**
 * Collection names and the indexes of DESIGN.md's data model, created by `ensureIndexes` (idempotent:
 * creating an index that exists with the same spec is a no-op on MongoDB and FerretDB).
 *
 * Deterministic `_id`s (e.g. `<run>/<grow>/<idx>/<k>` for samples) back the unique keys, so a
 * replayed write hits the primary key; the named unique indexes state the keys for queries and for
 * anyone writing with other ids.
 */
import type { Db, IndexDescription } from 'mongodb';

/** Collection names. */
export const COLLECTIONS = {
  datasets: 'datasets',
  runs: 'runs',
  runMetrics: 'run_metrics',
  revisions: 'revisions',
  samples: 'samples',
  shards: 'shards',
  policies: 'policies',
  routes: 'routes',
  leases: 'leases',
  bundleManifests: 'bundle_manifests',
} as const;

/** The GridFS bucket holding bundle files (`bundles.files`, `bundles.chunks`). */
export const BUNDLE_BUCKET = 'bundles';

const INDEXES: Readonly<Record<string, readonly IndexDescription[]>> = {
  [COLLECTIONS.datasets]: [
    { key: { dataset: 1, split: 1, idx: 1 }, name: 'dataset_split_idx', unique: true },
  ],
  [COLLECTIONS.runs]: [{ key: { state: 1, _id: 1 }, name: 'state_id' }],
  [COLLECTIONS.runMetrics]: [{ key: { run: 1, at: 1 }, name: 'run_at' }],
  [COLLECTIONS.revisions]: [{ key: { ns: 1, key: 1, version: 1 }, name: 'ns_key_version', unique: true }],
  [COLLECTIONS.samples]: [{ key: { run: 1, grow: 1, idx: 1, k: 1 }, name: 'run_grow_idx_k', unique: true }],
  [COLLECTIONS.shards]: [
    { key: { run: 1, grow: 1, improve: 1, n: 1 }, name: 'run_grow_improve_n', unique: true },
    { key: { run: 1, grow: 1, improve: 1, leaseExpiresAt: 1 }, name: 'scope_lease_expiry' },
  ],
  [COLLECTIONS.policies]: [{ key: { run: 1, createdAt: 1 }, name: 'run_created' }],
  [COLLECTIONS.routes]: [{ key: { alias: 1 }, name: 'alias', unique: true }],
  [COLLECTIONS.leases]: [{ key: { resource: 1, epoch: 1 }, name: 'resource_epoch', unique: true }],
  [`${BUNDLE_BUCKET}.files`]: [
    { key: { filename: 1, uploadDate: 1 }, name: 'filename_1_uploadDate_1' },
    { key: { 'metadata.bundleId': 1 }, name: 'bundle_id' },
  ],
  [`${BUNDLE_BUCKET}.chunks`]: [{ key: { files_id: 1, n: 1 }, name: 'files_id_1_n_1', unique: true }],
};

/**
 * Creates every collection's indexes; safe to call on every start and concurrently.
 * @throws the driver's error when the server rejects an index (e.g. existing duplicates).
 */
export async function ensureIndexes(db: Db): Promise<void> {
  for (const [name, specs] of Object.entries(INDEXES)) {
    // One index per command: FerretDB 1.24 drops the connection (a server-side panic) when one
    // createIndexes command names several indexes that all exist already.
    for (const spec of specs) await db.collection(name).createIndexes([spec]);
  }
}
