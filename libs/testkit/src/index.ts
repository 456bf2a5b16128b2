export {
  BinaryNotFoundError,
  ServerStartError,
  findBinary,
  freePort,
  canConnect,
  toolsBinDir,
} from './process.js';
export { startNatsServer, type NatsServer, type StartNatsServerOptions } from './nats-server.js';
export { startFerretDb, type FerretDb, type StartFerretDbOptions } from './ferretdb.js';
export { startInfra, type Infra, type StartInfraOptions } from './infra.js';
