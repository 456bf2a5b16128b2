export { infraUp, type InfraUpOptions } from './commands/infra.js';
