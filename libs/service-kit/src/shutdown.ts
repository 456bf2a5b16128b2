/**
 * SIGTERM/SIGINT handling for `main.ts`: run the shutdown steps in order, once, then report the exit
 * code. It never calls `process.exit` itself (only `main.ts` does, STYLE.md §5):
 *
 *   const { exitCode } = installSignalHandlers({ logger, shutdown: [(r) => grpc.shutdown(r), () => bus.drain()] });
 *   void exitCode.then((code) => process.exit(code));
 */
import type { Logger } from './logger.js';
import { errorChain } from './error-chain.js';

/** One shutdown step, e.g. the gRPC server's `shutdown`, a NATS drain, releasing ONNX sessions. */
export type ShutdownStep = (reason: string) => Promise<void>;

/** Where signals come from: `process` in production, an `EventEmitter` in tests. */
export interface SignalSource {
  on(event: NodeJS.Signals, listener: () => void): unknown;
  off(event: NodeJS.Signals, listener: () => void): unknown;
}

/** Options of {@link installSignalHandlers}. */
export interface InstallSignalHandlersOptions {
  /** Steps run one after another, in order; a failing step is logged and the rest still run. */
  readonly shutdown: readonly ShutdownStep[];
  readonly logger: Logger;
  /** @default ['SIGTERM', 'SIGINT'] */
  readonly signals?: readonly NodeJS.Signals[];
  /** @default process */
  readonly source?: SignalSource;
}

/** Installed handlers. */
export interface SignalHandlers {
  /**
   * Resolves once shutdown has finished: 0 when every step succeeded, 1 when one failed or a second
   * signal arrived while shutting down (the operator wants out now).
   */
  readonly exitCode: Promise<number>;
  /** Runs the shutdown as if a signal had arrived (e.g. after a fatal error); idempotent. */
  trigger(reason: string): void;
  /** Removes the listeners. */
  uninstall(): void;
}

/** Listens for SIGTERM/SIGINT and runs the shutdown steps once; see the module comment. */
export function installSignalHandlers(options: InstallSignalHandlersOptions): SignalHandlers {
  const source = options.source ?? process;
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const logger = options.logger.child({ component: 'shutdown' });
  let resolveExit: (code: number) => void = () => {};
  const exitCode = new Promise<number>((resolve) => {
    resolveExit = resolve;
  });
  let started = false;

  const run = async (reason: string): Promise<number> => {
    let code = 0;
    for (const step of options.shutdown) {
      try {
        await step(reason);
      } catch (error) {
        code = 1;
        logger.error('shutdown step failed', { err: errorChain(error) });
      }
    }
    return code;
  };

  const trigger = (reason: string): void => {
    if (started) return;
    started = true;
    logger.info('shutdown requested', { reason });
    void run(reason).then(resolveExit);
  };

  const listeners = signals.map((signal) => {
    const listener = (): void => {
      if (started) {
        logger.warn('second signal while shutting down; exiting now', { signal });
        resolveExit(1);
        return;
      }
      trigger(signal);
    };
    source.on(signal, listener);
    return { signal, listener };
  });

  return {
    exitCode,
    trigger,
    uninstall() {
      for (const { signal, listener } of listeners) source.off(signal, listener);
    },
  };
}
