/**
 * A real MongoDB-compatible server: FerretDB v1.24 with its SQLite backend, on a free loopback port
 * with a temporary data directory. Used by integration tests and by `rest infra up`; production
 * points MONGODB_URI at MongoDB >= 6.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { canConnect, findBinary, launch, startOnFreePort, stopProcess } from './process.js';

/** A running FerretDB; `stop()` (or `await using`) ends it and removes its data. */
export interface FerretDb extends AsyncDisposable {
  /** `mongodb://127.0.0.1:<port>/` */
  readonly uri: string;
  readonly port: number;
  readonly dataDir: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Options of {@link startFerretDb}. */
export interface StartFerretDbOptions {
  /** Data directory; kept on stop. @default a new temporary directory, removed on stop */
  readonly dataDir?: string;
  /** @default a free port */
  readonly port?: number;
  /** @default 30000 */
  readonly startTimeoutMs?: number;
}

async function answersPing(uri: string): Promise<boolean> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 1000, connectTimeoutMS: 1000 });
  try {
    await client.db('admin').command({ ping: 1 });
    return true;
  } finally {
    await client.close();
  }
}

/**
 * Starts FerretDB (binary from `REST_FERRETDB_BIN`, the tools cache or PATH) and waits until it
 * answers a `ping` through the official driver.
 * @throws BinaryNotFoundError when ferretdb is not installed; ServerStartError when it fails to start.
 */
export async function startFerretDb(options: StartFerretDbOptions = {}): Promise<FerretDb> {
  const bin = findBinary('ferretdb', 'REST_FERRETDB_BIN');
  const ownsData = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'rest-ferretdb-')));
  const uriOf = (port: number): string => `mongodb://127.0.0.1:${port}/`;
  try {
    const { port, launched } = await startOnFreePort(
      'ferretdb',
      (p) =>
        launch(bin, [
          '--handler=sqlite',
          `--sqlite-url=file:${dataDir}/`,
          `--state-dir=${dataDir}`,
          `--listen-addr=127.0.0.1:${p}`,
          '--debug-addr=-',
          '--telemetry=disable',
          '--log-level=warn',
        ]),
      async (p) => (await canConnect(p)) && (await answersPing(uriOf(p))),
      {
        timeoutMs: options.startTimeoutMs ?? 30000,
        ...(options.port === undefined ? {} : { fixedPort: options.port }),
      },
    );
    const stop = async (): Promise<void> => {
      await stopProcess(launched);
      if (ownsData) await rm(dataDir, { recursive: true, force: true });
    };
    return {
      uri: uriOf(port),
      port,
      dataDir,
      pid: launched.child.pid ?? -1,
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (err) {
    if (ownsData) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}
