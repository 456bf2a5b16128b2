/**
 * `rest infra up`: the platform's local infrastructure. Starts a real nats-server (JetStream) and a
 * real MongoDB-compatible server (FerretDB, SQLite backend) on free loopback ports — or adopts the
 * ones named by NATS_URL / MONGODB_URI — prints how to reach them, and keeps them up until
 * interrupted. Either way it prepares them for the platform: the JetStream streams of DESIGN.md's
 * work queues and event log, and the MongoDB collections with their unique indexes (both idempotent).
 * With --check it does all that and exits (a smoke test of an install).
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { connectBus } from '@rest/bus';
import { openStore } from '@rest/store';
import { startFerretDb, startNatsServer, type FerretDb, type NatsServer } from '@rest/testkit';

/** Options of `rest infra up`. */
export interface InfraUpOptions {
  /** Keep data here between runs instead of in temporary directories. */
  readonly dataDir?: string;
  /** Start, verify, print, stop. */
  readonly check: boolean;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** Creates (or updates) the JetStream streams and the collections' indexes. */
async function prepare(natsUrl: string, mongoUri: string): Promise<void> {
  const [bus, store] = await Promise.all([
    connectBus({ servers: natsUrl, name: 'rest-infra-up' }),
    openStore({ uri: mongoUri, ensureIndexes: true }),
  ]);
  try {
    await bus.ensureStreams();
  } finally {
    await Promise.all([bus.close(), store.close()]);
  }
}

/** The local infrastructure, started or adopted, prepared for the platform. */
export interface Infra {
  readonly natsUrl: string;
  readonly mongoUri: string;
  /** The embedded servers' pids (undefined when adopted from the environment). */
  readonly natsPid: number | undefined;
  readonly mongoPid: number | undefined;
  /** Stops the servers this process started (adopted ones are left alone). */
  readonly stop: () => Promise<void>;
}

/**
 * Starts nats-server and FerretDB on free loopback ports unless NATS_URL / MONGODB_URI name running
 * ones, then ensures the JetStream streams and MongoDB indexes. Nothing is left running on failure.
 * @param dataDir keep the servers' data here (default: temporary folders)
 */
export async function startInfra(dataDir?: string): Promise<Infra> {
  const natsUrl = nonEmpty(process.env['NATS_URL']);
  const mongoUri = nonEmpty(process.env['MONGODB_URI']);
  const dir = dataDir === undefined ? undefined : resolve(dataDir);
  if (dir !== undefined) {
    await Promise.all([
      mkdir(`${dir}/nats`, { recursive: true }),
      mkdir(`${dir}/ferretdb`, { recursive: true }),
    ]);
  }
  let nats: NatsServer | undefined;
  let ferretdb: FerretDb | undefined;
  try {
    [nats, ferretdb] = await Promise.all([
      natsUrl === undefined
        ? startNatsServer(dir === undefined ? {} : { storeDir: `${dir}/nats` })
        : Promise.resolve(undefined),
      mongoUri === undefined
        ? startFerretDb(dir === undefined ? {} : { dataDir: `${dir}/ferretdb` })
        : Promise.resolve(undefined),
    ]);
  } catch (err) {
    await Promise.all([nats?.stop(), ferretdb?.stop()]);
    throw err;
  }
  const stop = async (): Promise<void> => {
    await Promise.all([nats?.stop(), ferretdb?.stop()]);
  };
  const nUrl = natsUrl ?? nats?.url ?? '';
  const mUri = mongoUri ?? ferretdb?.uri ?? '';
  try {
    await prepare(nUrl, mUri);
  } catch (err) {
    await stop();
    throw err;
  }
  return { natsUrl: nUrl, mongoUri: mUri, natsPid: nats?.pid, mongoPid: ferretdb?.pid, stop };
}

/** Runs `rest infra up`; resolves when the servers have stopped. */
export async function infraUp(options: InfraUpOptions): Promise<void> {
  const t0 = Date.now();
  const infra = await startInfra(options.dataDir);
  const { natsUrl: nUrl, mongoUri: mUri, stop } = infra;
  const dir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
  console.log(`infra ready in ${Date.now() - t0} ms (JetStream streams and MongoDB indexes in place)`);
  console.log(
    `  NATS     ${nUrl}${infra.natsPid === undefined ? '  (from NATS_URL)' : `  (nats-server pid ${infra.natsPid})`}`,
  );
  console.log(
    `  MongoDB  ${mUri}${infra.mongoPid === undefined ? '  (from MONGODB_URI)' : `  (FerretDB pid ${infra.mongoPid})`}`,
  );
  if (dir !== undefined) console.log(`  data     ${dir}`);
  console.log('');
  console.log('Point other shells at them with:');
  console.log(`  export NATS_URL=${nUrl} MONGODB_URI=${mUri}`);
  if (options.check) {
    await stop();
    console.log('check passed: both servers answered, streams and indexes are in place; stopped.');
    return;
  }
  console.log('\nPress Ctrl-C to stop.');
  await new Promise<void>((resolveStop) => {
    const onSignal = (): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      console.log('\nstopping ...');
      void stop().then(resolveStop, resolveStop);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
