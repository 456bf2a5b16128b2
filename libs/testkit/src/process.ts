/**
 * Launching a real server binary as a child process on loopback: locating the binary, picking free
 * ports, waiting until it answers, and stopping it cleanly (SIGTERM, then SIGKILL after a grace period).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createServer, connect } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/** A required server binary is not installed where the launchers look. */
export class BinaryNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BinaryNotFoundError';
  }
}

/** A launched server exited or did not answer before its start-up deadline. */
export class ServerStartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ServerStartError';
  }
}

/** The folder where scripts/install-deps.sh caches tool binaries. @default ~/.cache/rest-tools/bin */
export function toolsBinDir(): string {
  return join(process.env['REST_TOOLS_DIR'] ?? join(homedir(), '.cache', 'rest-tools'), 'bin');
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds a binary: the env override `envVar` if set, else the tools cache, else `PATH`, else
 * `/usr/sbin` (where Debian puts nats-server).
 * @throws BinaryNotFoundError naming the install command when it is nowhere.
 */
export function findBinary(name: string, envVar: string): string {
  const override = process.env[envVar];
  if (override !== undefined && override !== '') {
    if (isExecutable(override)) return override;
    throw new BinaryNotFoundError(`${envVar}=${override} is not an executable file`);
  }
  const dirs = [
    toolsBinDir(),
    ...(process.env['PATH'] ?? '').split(delimiter),
    '/usr/sbin',
    '/usr/local/sbin',
  ];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  throw new BinaryNotFoundError(
    `${name} not found (looked in ${toolsBinDir()}, PATH and /usr/sbin); run \`npm run infra:install\` ` +
      `(scripts/install-deps.sh) or set ${envVar}`,
  );
}

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picked it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('no port assigned'));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

/** Resolves true once a TCP connection to 127.0.0.1:port succeeds. */
export async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A started child process with its collected output (for error messages). */
export interface Launched {
  readonly child: ChildProcess;
  /** The last few KiB of stdout+stderr. */
  output(): string;
  /** Set once the process has exited. */
  exited(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

/** Spawns `bin args`, keeping the tail of its output and noting its exit. */
export function launch(bin: string, args: readonly string[], cwd?: string): Launched {
  const child = spawn(bin, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-8192);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('exit', (code, signal) => {
    exit = { code, signal };
  });
  child.on('error', (err) => {
    tail += `\nspawn error: ${err.message}`;
    exit ??= { code: null, signal: null };
  });
  return { child, output: () => tail, exited: () => exit };
}

/**
 * Polls `ready()` every 50 ms until it resolves true, the process exits, or `timeoutMs` passes.
 * @throws ServerStartError with the process output when it exits or times out.
 */
export async function waitUntilReady(
  what: string,
  launched: Launched,
  ready: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exit = launched.exited();
    if (exit !== undefined) {
      throw new ServerStartError(
        `${what} exited during start-up (code ${exit.code}, signal ${exit.signal}):\n${launched.output()}`,
      );
    }
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) {
      await stopProcess(launched, 1000);
      throw new ServerStartError(`${what} did not answer within ${timeoutMs} ms:\n${launched.output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** SIGTERM, then SIGKILL if still alive after `graceMs`; resolves once the process has exited. */
export async function stopProcess(launched: Launched, graceMs = 5000): Promise<void> {
  if (launched.exited() !== undefined) return;
  const done = new Promise<void>((resolve) => launched.child.once('exit', () => resolve()));
  launched.child.kill('SIGTERM');
  const timer = setTimeout(() => launched.child.kill('SIGKILL'), graceMs);
  await done;
  clearTimeout(timer);
}

/** What {@link startOnFreePort} gives back: the port it bound and the launched process. */
export interface StartedServer {
  readonly port: number;
  readonly launched: Launched;
}

/**
 * Launches a server on a free port (or `fixedPort`) and waits until `ready(port)`; a port taken
 * between picking and binding is the usual failure, so a picked port is retried up to 3 times.
 * @throws ServerStartError (or the launcher's error) after the last attempt.
 */
export async function startOnFreePort(
  what: string,
  start: (port: number) => Launched,
  ready: (port: number) => Promise<boolean>,
  options: { readonly fixedPort?: number; readonly timeoutMs: number },
): Promise<StartedServer> {
  let lastError: unknown;
  const attempts = options.fixedPort === undefined ? 3 : 1;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const port = options.fixedPort ?? (await freePort());
    const launched = start(port);
    try {
      await waitUntilReady(what, launched, () => ready(port), options.timeoutMs);
      return { port, launched };
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError instanceof Error ? lastError : new ServerStartError(`${what} failed to start`);
}
