/**
 * The coordinator's process: config (`--role grow-worker` is shorthand for `COORD_ROLE=grow-worker`),
 * logger, connect, bind, SERVING, run the role; on SIGTERM/SIGINT health NOT_SERVING, stop the loops
 * (work in flight is redelivered to another worker), drain, close, exit 0 (STYLE.md §8). The only
 * module with side effects.
 */
import { ConfigError, createLogger, errorChain, installSignalHandlers } from '@rest/service-kit';
import { CONFIG, loadConfig, type Config } from './config.js';
import { startCoordinatorServer, type CoordinatorServer } from './server.js';

let config: Config;
try {
  config = loadConfig(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
const logger = createLogger({ service: 'coordinator', level: config.logLevel }).child({ role: config.role });
logger.info('config', { config: CONFIG.redact(config) });

let server: CoordinatorServer;
try {
  server = await startCoordinatorServer({ config, logger });
} catch (error) {
  logger.error('start-up failed', { err: errorChain(error) });
  process.exit(1);
}
const { exitCode } = installSignalHandlers({ logger, shutdown: [(reason) => server.shutdown(reason)] });
void exitCode.then((code) => process.exit(code));
