/**
 * A real `nats-server` with JetStream on a free loopback port and a temporary store directory.
 * Used by integration tests and by `rest infra up`; production points NATS_URL at a cluster.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary, launch, startOnFreePort, stopProcess } from './process.js';

/** A running nats-server; `stop()` (or `await using`) ends it and removes its store. */
export interface NatsServer extends AsyncDisposable {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** JetStream store directory (temporary unless given). */
  readonly storeDir: string;
  /** The server's process id (tests kill it to simulate failures). */
  readonly pid: number;
  stop(): Promise<void>;
}

/** Options of {@link startNatsServer}. */
export interface StartNatsServerOptions {
  /** JetStream store directory; kept on stop. @default a new temporary directory, removed on stop */
  readonly storeDir?: string;
  /** Port to listen on. @default a free port */
  readonly port?: number;
  /** @default 15000 */
  readonly startTimeoutMs?: number;
}

/** Resolves true when a NATS server on `port` sends its INFO greeting. */
async function answersInfo(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, 1000);
    socket.once('data', (data) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(data.toString('utf8').startsWith('INFO '));
    });
    socket.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

/**
 * Starts nats-server (binary from `REST_NATS_SERVER_BIN`, the tools cache, PATH or /usr/sbin) with
 * JetStream on 127.0.0.1 and waits until it greets clients.
 * @throws BinaryNotFoundError when nats-server is not installed; ServerStartError when it fails to start.
 */
export async function startNatsServer(options: StartNatsServerOptions = {}): Promise<NatsServer> {
  const bin = findBinary('nats-server', 'REST_NATS_SERVER_BIN');
  const ownsStore = options.storeDir === undefined;
  const storeDir = options.storeDir ?? (await mkdtemp(join(tmpdir(), 'rest-nats-')));
  try {
    const { port, launched } = await startOnFreePort(
      'nats-server',
      (p) => launch(bin, ['-a', '127.0.0.1', '-p', String(p), '-js', '-sd', storeDir]),
      answersInfo,
      {
        timeoutMs: options.startTimeoutMs ?? 15000,
        ...(options.port === undefined ? {} : { fixedPort: options.port }),
      },
    );
    const stop = async (): Promise<void> => {
      await stopProcess(launched);
      if (ownsStore) await rm(storeDir, { recursive: true, force: true });
    };
    return {
      url: `nats://127.0.0.1:${port}`,
      port,
      storeDir,
      pid: launched.child.pid ?? -1,
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (err) {
    if (ownsStore) await rm(storeDir, { recursive: true, force: true });
    throw err;
  }
}
