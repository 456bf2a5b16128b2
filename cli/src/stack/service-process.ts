/**
 * One platform service as a supervised child process, the way a Kubernetes Deployment keeps a pod:
 * started from source (`--conditions=source --import tsx`) when the CLI itself runs from source,
 * from `dist/` otherwise; ready when it logs `serving`; restarted after an unexpected exit (a crash
 * or a SIGKILL), with its JSON-lines log appended to `<logDir>/<name>.log`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The repository root (the folder with the workspace packages). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const FROM_SOURCE = fileURLToPath(import.meta.url).endsWith('.ts');

/** Every live child of this process, killed when it exits (a stack must not outlive its CLI). */
const LIVE = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of LIVE) child.kill('SIGKILL');
});

/** What to run. */
export interface ServiceDef {
  /** Unique within a stack, e.g. `policy-server-1`; names the log file. */
  readonly name: string;
  /** Workspace folder of the service, e.g. `policy-server`. */
  readonly pkg: string;
  readonly args?: readonly string[];
  /** Added to the CLI's own environment. */
  readonly env: Readonly<Record<string, string>>;
}

/** Options of {@link ServiceProcess}. */
export interface ServiceProcessOptions {
  readonly logDir: string;
  /** Longest wait for `serving`. @default 120 000 */
  readonly startTimeoutMs?: number;
  /** Restart after an unexpected exit. @default true */
  readonly restart?: boolean;
  /** Told about restarts and failures. */
  readonly onNotice?: (message: string) => void;
}

/** A supervised service; see the module comment. */
export class ServiceProcess {
  private child: ChildProcess | undefined;
  private stopping = false;
  private log: WriteStream | undefined;
  /** Times the service was (re)started. */
  starts = 0;

  constructor(
    readonly def: ServiceDef,
    private readonly options: ServiceProcessOptions,
  ) {}

  /** The current child's pid. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Starts the child and waits until it logs `serving`.
   * @throws Error naming the service and the tail of its log when it exits or times out first
   */
  async start(): Promise<void> {
    this.log ??= createWriteStream(join(this.options.logDir, `${this.def.name}.log`), { flags: 'a' });
    const main = FROM_SOURCE
      ? join(REPO_ROOT, this.def.pkg, 'src', 'main.ts')
      : join(REPO_ROOT, this.def.pkg, 'dist', 'main.js');
    if (!existsSync(main)) throw new Error(`${this.def.name}: ${main} not found (run npm run build?)`);
    const child = spawn(
      process.execPath,
      [...(FROM_SOURCE ? ['--conditions=source', '--import', 'tsx'] : []), main, ...(this.def.args ?? [])],
      { cwd: REPO_ROOT, env: { ...process.env, ...this.def.env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    this.starts++;
    LIVE.add(child);
    child.once('exit', () => LIVE.delete(child));
    const tail: string[] = [];
    const keep = (line: string): void => {
      this.log?.write(`${line}\n`);
      tail.push(line);
      if (tail.length > 20) tail.shift();
    };
    createInterface({ input: child.stderr }).on('line', keep);
    const lines = createInterface({ input: child.stdout });
    await new Promise<void>((ready, fail) => {
      const timer = setTimeout(() => {
        fail(new Error(`${this.def.name} did not start in time; its last lines:\n${tail.join('\n')}`));
        child.kill('SIGKILL');
      }, this.options.startTimeoutMs ?? 120_000);
      const onExit = (code: number | null, signal: string | null): void => {
        clearTimeout(timer);
        fail(
          new Error(
            `${this.def.name} exited (${signal ?? code}) while starting; its last lines:\n${tail.join('\n')}`,
          ),
        );
      };
      child.once('exit', onExit);
      lines.on('line', (line) => {
        keep(line);
        if (line.includes('"msg":"serving"')) {
          clearTimeout(timer);
          child.off('exit', onExit);
          ready();
        }
      });
    });
    child.once('exit', (code, signal) => {
      if (this.stopping || this.child !== child || this.options.restart === false) return;
      this.options.onNotice?.(`${this.def.name} exited (${signal ?? code}); restarting`);
      void this.restartLater();
    });
  }

  /** Sends `signal` to the current child (tests: SIGKILL to simulate a crash; it is restarted). */
  kill(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; no restart. Idempotent. */
  async stop(graceMs = 30_000): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((done) => child.once('exit', () => done()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    await new Promise<void>((done) => (this.log === undefined ? done() : this.log.end(done)));
    this.log = undefined;
  }

  private async restartLater(): Promise<void> {
    for (let attempt = 1; !this.stopping; attempt++) {
      await new Promise((r) => setTimeout(r, Math.min(500 * attempt, 5000)));
      if (this.stopping) return;
      try {
        await this.start();
        this.options.onNotice?.(`${this.def.name} restarted`);
        return;
      } catch (err) {
        this.options.onNotice?.(`${this.def.name}: restart failed: ${(err as Error).message.split('\n')[0]}`);
      }
    }
  }
}
