/**
 * The trainer's process: config, logger, connect, bind, SERVING, take Improve work; on SIGTERM/SIGINT
 * health NOT_SERVING, stop the job in flight (its message comes back, the job resumes from its
 * checkpoint), drain, close, exit 0 (STYLE.md §8). The only module with side effects.
 */
import { ConfigError, createLogger, errorChain, installSignalHandlers } from '@rest/service-kit';
import { CONFIG, loadConfig, type Config } from './config.js';
import { startTrainerServer, type TrainerServer } from './server.js';

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
const logger = createLogger({ service: 'trainer', level: config.logLevel });
logger.info('config', { config: CONFIG.redact(config) });

let server: TrainerServer;
try {
  server = await startTrainerServer({ config, logger });
} catch (error) {
  logger.error('start-up failed', { err: errorChain(error) });
  process.exit(1);
}
const { exitCode } = installSignalHandlers({ logger, shutdown: [(reason) => server.shutdown(reason)] });
void exitCode.then((code) => process.exit(code));
