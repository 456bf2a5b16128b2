/**
 * Local infrastructure for tests and local runs: uses the servers named by `NATS_URL` /
 * `MONGODB_URI` when set, and otherwise starts its own nats-server and FerretDB on loopback.
 */
import { startFerretDb, type FerretDb } from './ferretdb.js';
import { startNatsServer, type NatsServer } from './nats-server.js';

/** The servers in use; `stop()` stops only the ones this module started. */
export interface Infra extends AsyncDisposable {
  readonly natsUrl: string;
  readonly mongoUri: string;
  /** Set when this process started nats-server (tests use it to kill or restart the broker). */
  readonly nats?: NatsServer;
  /** Set when this process started FerretDB. */
  readonly ferretdb?: FerretDb;
  stop(): Promise<void>;
}

/** Options of {@link startInfra}. */
export interface StartInfraOptions {
  /** Use this NATS server instead of starting one. @default process.env.NATS_URL */
  readonly natsUrl?: string;
  /** Use this MongoDB instead of starting FerretDB. @default process.env.MONGODB_URI */
  readonly mongoUri?: string;
  /** Skip NATS entirely (natsUrl is then ''). */
  readonly withoutNats?: boolean;
  /** Skip MongoDB entirely (mongoUri is then ''). */
  readonly withoutMongo?: boolean;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Starts (or adopts) NATS and MongoDB, both in parallel.
 * @throws BinaryNotFoundError / ServerStartError from the launchers.
 */
export async function startInfra(options: StartInfraOptions = {}): Promise<Infra> {
  const natsUrl = nonEmpty(options.natsUrl ?? process.env['NATS_URL']);
  const mongoUri = nonEmpty(options.mongoUri ?? process.env['MONGODB_URI']);
  const [nats, ferretdb] = await Promise.all([
    options.withoutNats === true || natsUrl !== undefined ? undefined : startNatsServer(),
    options.withoutMongo === true || mongoUri !== undefined ? undefined : startFerretDb(),
  ]);
  const stop = async (): Promise<void> => {
    await Promise.all([nats?.stop(), ferretdb?.stop()]);
  };
  return {
    natsUrl: natsUrl ?? nats?.url ?? '',
    mongoUri: mongoUri ?? ferretdb?.uri ?? '',
    ...(nats === undefined ? {} : { nats }),
    ...(ferretdb === undefined ? {} : { ferretdb }),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
