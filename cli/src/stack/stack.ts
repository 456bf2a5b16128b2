/**
 * The whole platform on one machine, as `rest up` and `rest demo` run it: NATS and MongoDB (embedded
 * or adopted, `startInfra`), the dataset and the base policy in the store, then every service as its
 * own supervised process on free loopback ports — reward server, policy server(s), trainer,
 * coordinator, grow worker(s) — configured through the same environment variables a Kubernetes
 * manifest sets. Killing any of them (SIGKILL) only costs a restart: the supervisor starts it again
 * and the run resumes from what MongoDB and JetStream hold.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { openStore, uploadBundle, type SentenceInput, type Split, type Store } from '@rest/store';
import { freePort } from '@rest/testkit';
import { startInfra, type Infra } from '../commands/infra.js';
import { ServiceProcess, type ServiceDef } from './service-process.js';

/** Options of {@link startStack}. */
export interface StackOptions {
  /** Logs (`logs/<service>.log`), trainer scratch, policy caches. */
  readonly workDir: string;
  /** Folder with `<split>.<lang>` files imported as the dataset. */
  readonly dataDir: string;
  /** @default 'multi30k' */
  readonly dataset?: string;
  /** @default 'de' */
  readonly srcLang?: string;
  /** @default 'en' */
  readonly tgtLang?: string;
  /** Policy server processes. @default 1 */
  readonly policyServers?: number;
  /** Grow-worker processes; 0 runs the workers inside the coordinator process (role `all`). @default 1 */
  readonly growWorkers?: number;
  /** Import at most this many sentences of a split (the first ones). @default all */
  readonly datasetLimits?: Readonly<Partial<Record<Split, number>>>;
  /** Learned reward model folders for the reward server. @default [] */
  readonly rewardModelDirs?: readonly string[];
  /** Service log level; the supervisor reads the `serving` line, so nothing above `info`. @default 'info' */
  readonly logLevel?: 'debug' | 'info';
  /** Extra environment per service name prefix (e.g. `{ trainer: { TRAINER_JOBS__PROGRESS_EVERY_STEPS: '5' } }`). */
  readonly extraEnv?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Restarts, failures. */
  readonly onNotice?: (message: string) => void;
}

/** gRPC addresses of the running services. */
export interface StackAddresses {
  readonly coordinator: string;
  readonly policy: readonly string[];
  readonly reward: string;
  readonly trainer: string;
}

/** A running stack. */
export interface Stack {
  readonly infra: Infra;
  readonly store: Store;
  readonly addresses: StackAddresses;
  /** Every service by name (`reward-server`, `policy-server-1`, `trainer`, `coordinator`, `grow-worker-1`, …). */
  readonly services: ReadonlyMap<string, ServiceProcess>;
  readonly logDir: string;
  /** Stops every service (SIGTERM, in reverse start order), then the embedded servers. Idempotent. */
  stop(): Promise<void>;
}

const SPLITS: readonly Split[] = ['train', 'valid', 'test'];

/**
 * Imports `<dataDir>/<split>.<src|tgt>` as dataset `name` (idempotent: unique (dataset, split, idx)),
 * at most `limits[split]` sentences of a split.
 * @returns sentences per split
 * @throws Error naming the file when one is missing or the two sides differ in length
 */
export async function importDataset(
  store: Store,
  name: string,
  dataDir: string,
  srcLang: string,
  tgtLang: string,
  limits: Readonly<Partial<Record<Split, number>>> = {},
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const split of SPLITS) {
    const read = async (lang: string): Promise<string[]> => {
      const path = join(dataDir, `${split}.${lang}`);
      const text = await readFile(path, 'utf8').catch((err: unknown) => {
        throw new Error(`dataset ${name}: cannot read ${path}`, { cause: err });
      });
      return text.replace(/\n$/, '').split('\n');
    };
    const [src, tgt] = await Promise.all([read(srcLang), read(tgtLang)]);
    if (src.length !== tgt.length) {
      throw new Error(
        `dataset ${name}: ${split}.${srcLang} has ${src.length} lines, ${split}.${tgtLang} ${tgt.length}`,
      );
    }
    const n = Math.min(src.length, limits[split] ?? Infinity);
    counts[split] = n;
    if ((await store.datasets.count(name, split)) >= n) continue;
    const rows: SentenceInput[] = src
      .slice(0, n)
      .map((source, idx) => ({ idx, source, reference: tgt[idx]! }));
    await store.datasets.insertNew(name, split, rows);
  }
  return counts;
}

/**
 * Registers the bundle folder `dir` as policy `id` (files into GridFS; an existing id is left as is).
 * @returns true when it was registered now
 */
export async function registerPolicyFolder(store: Store, id: string, dir: string): Promise<boolean> {
  if ((await store.policies.get(id)) !== null) return false;
  await uploadBundle(store.bundles, id, resolve(dir));
  const manifest = await store.bundles.manifest(id);
  if (manifest === null) throw new Error(`policy ${id}: bundle upload of ${dir} left no manifest`);
  await store.policies.register({
    id,
    parentId: null,
    run: null,
    grow: 0,
    improve: 0,
    metrics: {},
    bundleId: id,
    files: manifest.files.map((f) => ({ name: f.name, fileId: f.fileId })),
  });
  return true;
}

/** Starts everything; see the module comment. Nothing is left running on failure. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const workDir = resolve(options.workDir);
  const logDir = join(workDir, 'logs');
  await mkdir(logDir, { recursive: true });
  const infra = await startInfra();
  const started: ServiceProcess[] = [];
  let store: Store | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      for (const s of [...started].reverse()) await s.stop().catch(() => undefined);
      await store?.close().catch(() => undefined);
      await infra.stop();
    })());
  try {
    store = await openStore({ uri: infra.mongoUri });
    const t0 = Date.now();
    const counts = await importDataset(
      store,
      options.dataset ?? 'multi30k',
      options.dataDir,
      options.srcLang ?? 'de',
      options.tgtLang ?? 'en',
      options.datasetLimits,
    );
    options.onNotice?.(
      `dataset ${options.dataset ?? 'multi30k'} in the store (${Object.entries(counts)
        .map(([split, n]) => `${split} ${n}`)
        .join(', ')}) after ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    const level = options.logLevel ?? 'info';
    const common = (prefix: string): Record<string, string> => ({
      [`${prefix}_NATS_URL`]: infra.natsUrl,
      [`${prefix}_MONGO_URI`]: infra.mongoUri,
      [`${prefix}_LOG_LEVEL`]: level,
      [`${prefix}_GRPC__HOST`]: '127.0.0.1',
      [`${prefix}_GRPC__METRICS_PORT`]: '0',
    });
    const extra = (name: string): Record<string, string> => ({
      ...Object.entries(options.extraEnv ?? {})
        .filter(([prefix]) => name.startsWith(prefix))
        .reduce((acc, [, env]) => ({ ...acc, ...env }), {}),
    });
    const services = new Map<string, ServiceProcess>();
    const define = (def: ServiceDef): ServiceProcess => {
      const s = new ServiceProcess(
        { ...def, env: { ...def.env, ...extra(def.name) } },
        { logDir, ...(options.onNotice === undefined ? {} : { onNotice: options.onNotice }) },
      );
      services.set(def.name, s);
      return s;
    };
    const boot = async (list: ServiceProcess[]): Promise<void> => {
      const results = await Promise.allSettled(list.map((s) => s.start()));
      list.forEach((s, i) => {
        if (results[i]?.status === 'fulfilled') started.push(s);
      });
      const failed = results.find((r) => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    };

    const rewardPort = await freePort();
    const trainerPort = await freePort();
    const coordinatorPort = await freePort();
    const policyPorts: number[] = [];
    for (let i = 0; i < Math.max(1, options.policyServers ?? 1); i++) policyPorts.push(await freePort());
    const reward = `127.0.0.1:${rewardPort}`;
    const policy = policyPorts.map((p) => `127.0.0.1:${p}`);

    const first = [
      define({
        name: 'reward-server',
        pkg: 'reward-server',
        env: {
          ...common('REWARD'),
          REWARD_GRPC__PORT: String(rewardPort),
          REWARD_MODELS__DIRS: JSON.stringify((options.rewardModelDirs ?? []).map((d) => resolve(d))),
        },
      }),
      ...policyPorts.map((port, i) =>
        define({
          name: `policy-server-${i + 1}`,
          pkg: 'policy-server',
          env: {
            ...common('POLICY'),
            POLICY_GRPC__PORT: String(port),
            POLICY_POLICIES__CACHE_DIR: join(workDir, `policy-cache-${i + 1}`),
          },
        }),
      ),
      define({
        name: 'trainer',
        pkg: 'trainer',
        env: {
          ...common('TRAINER'),
          TRAINER_GRPC__PORT: String(trainerPort),
          TRAINER_JOBS__WORK_DIR: join(workDir, 'trainer'),
          TRAINER_REWARD__ADDRESS: reward,
        },
      }),
    ];
    await boot(first);
    const workers = options.growWorkers ?? 1;
    const coordEnv = (policyAddress: string): Record<string, string> => ({
      ...common('COORD'),
      COORD_POLICY_SERVER: policyAddress,
      COORD_REWARD_SERVER: reward,
    });
    const second = [
      define({
        name: 'coordinator',
        pkg: 'coordinator',
        env: {
          ...coordEnv(policy[0]!),
          COORD_GRPC__PORT: String(coordinatorPort),
          // One local replica: no reason to cut long WatchRun streams for rebalancing.
          COORD_GRPC__MAX_CONNECTION_AGE_MS: '24h',
          COORD_ROLE: workers === 0 ? 'all' : 'coordinator',
        },
      }),
    ];
    for (let i = 0; i < workers; i++) {
      second.push(
        define({
          name: `grow-worker-${i + 1}`,
          pkg: 'coordinator',
          args: ['--role', 'grow-worker'],
          env: { ...coordEnv(policy[i % policy.length]!), COORD_GRPC__PORT: '0' },
        }),
      );
    }
    await boot(second);
    return {
      infra,
      store,
      addresses: {
        coordinator: `127.0.0.1:${coordinatorPort}`,
        policy,
        reward,
        trainer: `127.0.0.1:${trainerPort}`,
      },
      services,
      logDir,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
