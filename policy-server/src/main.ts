/**
 * The policy server's process: config, logger, MongoDB and NATS, policy load and warm-up, bind,
 * SERVING; on SIGTERM/SIGINT health NOT_SERVING, drain, close, release the sessions, drain NATS,
 * exit 0 (STYLE.md §8). The only module with side effects.
 */
import { ConfigError, createLogger, errorChain, installSignalHandlers } from '@rest/service-kit';
import { CONFIG, loadConfig, type Config } from './config.js';
import { startPolicyServer, type PolicyServer } from './server.js';

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
const logger = createLogger({ service: 'policy-server', level: config.logLevel });
logger.info('config', { config: CONFIG.redact(config) });

let server: PolicyServer;
try {
  server = await startPolicyServer({ config, logger });
} catch (error) {
  logger.error('start-up failed', { err: errorChain(error) });
  process.exit(1);
}
const { exitCode } = installSignalHandlers({ logger, shutdown: [(reason) => server.shutdown(reason)] });
void exitCode.then((code) => process.exit(code));
