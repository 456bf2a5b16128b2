import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { ConfigError, defineConfig } from './config.js';
import { byteSize, duration, secret } from './config-schema.js';

const CONFIG = defineConfig({
  prefix: 'DEMO',
  schema: z.object({
    host: z.string().default('0.0.0.0').describe('address to bind'),
    port: z.number().int().min(0).max(65535).default(50051).describe('gRPC port; 0 picks a free one'),
    modelPath: z.string().min(1).describe('policy bundle folder'),
    verbose: z.boolean().default(false).describe('log more'),
    level: z.enum(['debug', 'info']).default('info').describe('log level'),
    drainTimeoutMs: duration('30s').describe('how long in-flight calls may finish on shutdown'),
    grpc: z.object({
      maxReceiveMessageBytes: byteSize('4MiB').describe('largest request accepted'),
    }),
    mongoPassword: secret(z.string()).default('').describe('MongoDB password'),
    tags: z.array(z.string()).default([]).describe('extra labels'),
  }),
});

function files(map: Record<string, string>): (path: string) => string {
  return (path) => {
    const text = map[path];
    if (text === undefined) throw new Error(`ENOENT: ${path}`);
    return text;
  };
}

function loadError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a ConfigError');
}

describe('defineConfig', () => {
  it('defineConfig: maps nested keys to env vars with __ between levels', () => {
    const names = CONFIG.keys.map((k) => k.envVar);
    assert.ok(names.includes('DEMO_GRPC__MAX_RECEIVE_MESSAGE_BYTES'));
    assert.ok(names.includes('DEMO_DRAIN_TIMEOUT_MS'));
    assert.equal(CONFIG.fileEnvVar, 'DEMO_CONFIG_FILE');
  });

  it('defineConfig: rejects keys without a doc line, optional keys without a default, non-camelCase keys', () => {
    assert.throws(
      () =>
        defineConfig({
          prefix: 'BAD',
          schema: z.object({
            a: z.string().default('x'),
            b: z.string().optional().describe('b'),
            c_d: z.string().describe('c'),
          }),
        }),
      (error: Error) =>
        error instanceof TypeError &&
        /a: needs a \.describe/.test(error.message) &&
        /b: optional/.test(error.message) &&
        /c_d: keys must be camelCase/.test(error.message),
    );
  });
});

describe('ConfigDefinition.load', () => {
  it('load: schema defaults apply when nothing else is set', () => {
    const config = CONFIG.load({ env: { DEMO_MODEL_PATH: '/m' } });
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.port, 50051);
    assert.equal(config.drainTimeoutMs, 30_000);
    assert.equal(config.grpc.maxReceiveMessageBytes, 4 * 1024 * 1024);
    assert.deepEqual(config.tags, []);
  });

  it('load: the file overrides defaults and env overrides the file', () => {
    const readFile = files({
      '/etc/demo.yaml':
        'port: 7000\nhost: 127.0.0.1\nmodelPath: /from-file\ngrpc:\n  maxReceiveMessageBytes: 16MiB\n',
    });
    const config = CONFIG.load({
      env: {
        DEMO_CONFIG_FILE: '/etc/demo.yaml',
        DEMO_PORT: '7001',
        DEMO_VERBOSE: 'true',
        DEMO_DRAIN_TIMEOUT_MS: '500ms',
        OTHER_PORT: 'x',
      },
      readFile,
    });
    assert.equal(config.port, 7001);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.modelPath, '/from-file');
    assert.equal(config.verbose, true);
    assert.equal(config.drainTimeoutMs, 500);
    assert.equal(config.grpc.maxReceiveMessageBytes, 16 * 1024 * 1024);
  });

  it('load: reads JSON files and takes the path from --config over the env var', () => {
    const readFile = files({ '/a.json': '{"modelPath": "/json"}', '/b.yaml': 'modelPath: /yaml' });
    const config = CONFIG.load({
      env: { DEMO_CONFIG_FILE: '/b.yaml' },
      argv: ['--config', '/a.json'],
      readFile,
    });
    assert.equal(config.modelPath, '/json');
  });

  it('load: nested keys and JSON-kind keys are set from env', () => {
    const config = CONFIG.load({
      env: { DEMO_MODEL_PATH: '/m', DEMO_GRPC__MAX_RECEIVE_MESSAGE_BYTES: '1MB', DEMO_TAGS: '["a","b"]' },
    });
    assert.equal(config.grpc.maxReceiveMessageBytes, 1_000_000);
    assert.deepEqual(config.tags, ['a', 'b']);
  });

  it('load: reports every problem at once with its path and source', () => {
    const readFile = files({
      '/c.yaml': 'port: 99999\nbogus: 1\ngrpc:\n  maxReceiveMessageBytes: 12\n  extra: true\n',
    });
    const error = loadError(() =>
      CONFIG.load({
        env: {
          DEMO_CONFIG_FILE: '/c.yaml',
          DEMO_VERBOSE: 'maybe',
          DEMO_UNKNOWN_THING: '1',
          DEMO_LEVEL: 'loud',
        },
        argv: ['--frobnicate'],
        readFile,
      }),
    );
    const found = error.problems.map((p) => `${p.source}:${p.path}`).sort();
    assert.deepEqual(found, [
      'argv:--frobnicate',
      'env:DEMO_UNKNOWN_THING',
      'env:level',
      'env:verbose',
      'file:bogus',
      'file:grpc.extra',
      'file:grpc.maxReceiveMessageBytes',
      'file:port',
      'schema:modelPath',
    ]);
    assert.match(error.message, /9 problems/);
    assert.match(error.message, /modelPath \[schema\]: required: set it in the file or with DEMO_MODEL_PATH/);
    assert.match(error.message, /verbose \[env DEMO_VERBOSE\]: expected true, false, 1 or 0, got "maybe"/);
    assert.match(error.message, /grpc\.maxReceiveMessageBytes \[file\]: expected a byte size with a unit/);
  });

  it('load: rejects an env number that is not a number', () => {
    const error = loadError(() => CONFIG.load({ env: { DEMO_MODEL_PATH: '/m', DEMO_PORT: 'eighty' } }));
    assert.deepEqual(
      error.problems.map((p) => [p.path, p.envVar, p.message]),
      [['port', 'DEMO_PORT', 'expected a number, got "eighty"']],
    );
  });

  it('load: a missing or unparsable file is a problem, not a crash', () => {
    const missing = loadError(() =>
      CONFIG.load({ env: { DEMO_CONFIG_FILE: '/nope.yaml', DEMO_MODEL_PATH: '/m' }, readFile: files({}) }),
    );
    assert.match(missing.problems[0]?.message ?? '', /cannot read or parse \/nope\.yaml: ENOENT/);
    const broken = loadError(() =>
      CONFIG.load({
        env: { DEMO_CONFIG_FILE: '/b.yaml', DEMO_MODEL_PATH: '/m' },
        readFile: files({ '/b.yaml': 'a: [1,\n' }),
      }),
    );
    assert.equal(broken.problems[0]?.source, 'file');
    const list = loadError(() =>
      CONFIG.load({
        env: { DEMO_CONFIG_FILE: '/l.yaml', DEMO_MODEL_PATH: '/m' },
        readFile: files({ '/l.yaml': '- 1\n' }),
      }),
    );
    assert.match(list.problems[0]?.message ?? '', /mapping/);
  });

  it('load: durations need a unit', () => {
    const error = loadError(() =>
      CONFIG.load({ env: { DEMO_MODEL_PATH: '/m', DEMO_DRAIN_TIMEOUT_MS: '30' } }),
    );
    assert.match(error.problems[0]?.message ?? '', /with a unit/);
  });

  it('load: ignoreEnv lets through env vars that are not config', () => {
    const def = defineConfig({
      prefix: 'POLICY',
      schema: z.object({ port: z.number().default(1).describe('port') }),
      ignoreEnv: ['POLICY_SERVER_*'],
    });
    assert.equal(def.load({ env: { POLICY_SERVER_PORT: 'tcp://10.0.0.1:50051' } }).port, 1);
  });

  it('load: the result is deep-frozen', () => {
    const config = CONFIG.load({ env: { DEMO_MODEL_PATH: '/m', DEMO_TAGS: '["a"]' } });
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.grpc));
    assert.ok(Object.isFrozen(config.tags));
    assert.throws(() => {
      (config as { port: number }).port = 1;
    }, TypeError);
  });
});

describe('ConfigDefinition.redact', () => {
  it('redact: masks secret keys and leaves empty secrets and the config itself alone', () => {
    const config = CONFIG.load({ env: { DEMO_MODEL_PATH: '/m', DEMO_MONGO_PASSWORD: 'hunter2' } });
    const shown = CONFIG.redact(config);
    assert.equal(shown.mongoPassword, '[redacted]');
    assert.equal(shown.modelPath, '/m');
    assert.equal(config.mongoPassword, 'hunter2');
    assert.equal(CONFIG.redact(CONFIG.load({ env: { DEMO_MODEL_PATH: '/m' } })).mongoPassword, '');
  });
});

describe('ConfigDefinition.toMarkdown', () => {
  it('toMarkdown: one row per key with env var, default and doc line', () => {
    const table = CONFIG.toMarkdown();
    assert.match(table, /^\| key \| env var \| default \| description \|$/m);
    assert.match(
      table,
      /\| `drainTimeoutMs` \| `DEMO_DRAIN_TIMEOUT_MS` \| `"30s"` \| how long in-flight calls may finish on shutdown \|/,
    );
    assert.match(table, /\| `modelPath` \| `DEMO_MODEL_PATH` \| \*required\* \|/);
    assert.match(
      table,
      /\| `grpc\.maxReceiveMessageBytes` \| `DEMO_GRPC__MAX_RECEIVE_MESSAGE_BYTES` \| `"4MiB"` \|/,
    );
    assert.match(table, /`DEMO_CONFIG_FILE`/);
    assert.match(table, /MongoDB password \(secret\)/);
  });
});
