/**
 * Config keys for the shared infrastructure every stateful service reaches: NATS JetStream and
 * MongoDB, plus the log level. A zod shape to spread into a service's schema.
 */
import { z } from 'zod';
import { secret } from './config-schema.js';
import { LOG_LEVELS } from './logger.js';

/** Fresh zod schemas for `logLevel`, `natsUrl`, `mongoUri` (secret) and `mongoDb`. */
export function infraConfigShape() {
  return {
    logLevel: z.enum(LOG_LEVELS).default('info').describe('lowest level logged (JSON lines on stdout)'),
    natsUrl: z
      .string()
      .min(1)
      .default('nats://127.0.0.1:4222')
      .describe('NATS server(s) with JetStream, comma-separated'),
    mongoUri: secret(
      z
        .string()
        .min(1)
        .default('mongodb://127.0.0.1:27017/')
        .describe('MongoDB (>= 6) or FerretDB connection URI'),
    ),
    mongoDb: z.string().min(1).default('rest').describe('database name'),
  };
}
