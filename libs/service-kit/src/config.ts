/**
 * Config for services, validated once at start-up (STYLE.md §6).
 *
 * A service declares one zod object schema with `defineConfig({ prefix, schema })`; every leaf key has a
 * default or is required, and a `.describe()` doc line. `load({ env, argv, readFile })` resolves it:
 *
 *   schema defaults → file (YAML or JSON; path from `--config <path>` or `<PREFIX>_CONFIG_FILE`) → env vars.
 *
 * Env vars are `<PREFIX>_<KEY>` with camelCase keys in SCREAMING_SNAKE and nested keys joined by `__`
 * (`POLICY_GRPC__MAX_RECEIVE_MESSAGE_BYTES`). Unknown file keys, unknown `<PREFIX>_*` env vars and
 * unknown arguments are errors; every problem is collected into one `ConfigError`. The result is
 * deep-frozen. This module never reads `process.env` itself: the caller passes it in.
 */
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { baseSchema, collectKeys, isObjectSchema, type ConfigKeyInfo } from './config-schema.js';

/** A value and everything inside it, read-only. */
export type DeepReadonly<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends readonly (infer E)[]
    ? readonly DeepReadonly<E>[]
    : T extends object
      ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
      : T;

/** Where a config problem came from. `schema`: a required key that nothing set. */
export type ConfigProblemSource = 'file' | 'env' | 'argv' | 'schema';

/** One problem found while loading config. */
export interface ConfigProblem {
  /** Dotted key path (`grpc.port`), or the env var / argument when it matches no key. */
  readonly path: string;
  readonly source: ConfigProblemSource;
  /** The env var involved, when the source is `env`. */
  readonly envVar?: string;
  readonly message: string;
}

/** Thrown by `load()` with every problem found; `main.ts` logs it and exits 1 before binding anything. */
export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const lines = problems.map(
      (p) => `  - ${p.path} [${p.source}${p.envVar === undefined ? '' : ` ${p.envVar}`}]: ${p.message}`,
    );
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`,
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** What `load()` reads, passed in so tests can give their own. */
export interface ConfigInputs {
  /** Environment, usually `process.env`. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Command-line arguments after the script, usually `process.argv.slice(2)`. Only `--config <path>`. */
  readonly argv?: readonly string[];
  /** Reads the config file as UTF-8 text; required only when a file is named. */
  readonly readFile?: (path: string) => string;
}

/** The declaration a service passes to {@link defineConfig}. */
export interface ConfigSpec<S extends z.ZodObject> {
  /** Env var prefix, SCREAMING_SNAKE, e.g. `POLICY`. */
  readonly prefix: string;
  /** The schema: every leaf key with a default or required, and a `.describe()` line. */
  readonly schema: S;
  /**
   * `<PREFIX>_*` env vars that are not config and must not be reported as unknown (exact names, or
   * names ending in `*` for a prefix). Kubernetes service links inject e.g. `POLICY_SERVER_PORT`.
   * @default []
   */
  readonly ignoreEnv?: readonly string[];
}

/** A service's config, defined once; see the module comment for the rules. */
export interface ConfigDefinition<S extends z.ZodObject> {
  readonly prefix: string;
  readonly schema: S;
  /** Every leaf key with its env var, kind, default and doc line. */
  readonly keys: readonly ConfigKeyInfo[];
  /** `<PREFIX>_CONFIG_FILE`: the env var naming the config file. */
  readonly fileEnvVar: string;
  /**
   * Resolves the config from defaults, file and env.
   * @throws ConfigError listing every problem (unknown keys/env vars/arguments, bad values, missing keys)
   */
  load(inputs: ConfigInputs): DeepReadonly<z.output<S>>;
  /** A copy of `config` for logging, with secret keys masked as `[redacted]` (empty values stay empty). */
  redact(config: DeepReadonly<z.output<S>>): Record<string, unknown>;
  /** A markdown table of key, env var, default and doc line, for READMEs and ConfigMap comments. */
  toMarkdown(): string;
}

const REDACTED = '[redacted]';

/**
 * Declares a service's config. Checks the schema once, at module load:
 * @throws TypeError when the prefix is not SCREAMING_SNAKE, a key is not camelCase, a key has no
 *   `.describe()` line, a key is optional without a default, or two keys map to one env var
 */
export function defineConfig<S extends z.ZodObject>(spec: ConfigSpec<S>): ConfigDefinition<S> {
  if (!/^[A-Z][A-Z0-9_]*[A-Z0-9]$/.test(spec.prefix))
    throw new TypeError(`config prefix "${spec.prefix}" must be SCREAMING_SNAKE`);
  const keys = collectKeys(spec.prefix, spec.schema);
  const fileEnvVar = `${spec.prefix}_CONFIG_FILE`;
  const seen = new Map<string, string>([[fileEnvVar, '(config file)']]);
  const defects: string[] = [];
  for (const key of keys) {
    if (key.path.some((segment) => !/^[a-z][a-zA-Z0-9]*$/.test(segment)))
      defects.push(`${key.key}: keys must be camelCase`);
    if (key.description.trim() === '') defects.push(`${key.key}: needs a .describe() doc line`);
    if (key.optional) defects.push(`${key.key}: optional keys need a default (the config is fully resolved)`);
    const clash = seen.get(key.envVar);
    if (clash !== undefined) defects.push(`${key.key}: env var ${key.envVar} is also used by ${clash}`);
    seen.set(key.envVar, key.key);
  }
  if (defects.length > 0) throw new TypeError(`config schema ${spec.prefix}: ${defects.join('; ')}`);
  const byEnvVar = new Map(keys.map((k) => [k.envVar, k]));
  const ignore = spec.ignoreEnv ?? [];
  const ignored = (name: string): boolean =>
    ignore.some((pattern) =>
      pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern,
    );

  return {
    prefix: spec.prefix,
    schema: spec.schema,
    keys,
    fileEnvVar,
    load(inputs) {
      const problems: ConfigProblem[] = [];
      const filePath = readArgv(inputs.argv ?? [], problems) ?? nonEmpty(inputs.env[fileEnvVar]);
      const fileLayer =
        filePath === undefined ? {} : readConfigFile(filePath, inputs.readFile, spec.schema, problems);
      const envLayer: Record<string, unknown> = {};
      const fromEnv = new Map<string, string>();
      const rejected = new Set<string>();
      for (const [name, raw] of Object.entries(inputs.env)) {
        if (!name.startsWith(`${spec.prefix}_`) || name === fileEnvVar || raw === undefined) continue;
        const key = byEnvVar.get(name);
        if (key === undefined) {
          if (!ignored(name))
            problems.push({
              path: name,
              source: 'env',
              envVar: name,
              message: 'unknown env var: no config key has this name',
            });
          continue;
        }
        const coerced = coerceEnv(key, raw);
        if ('problem' in coerced) {
          rejected.add(key.key);
          problems.push({ path: key.key, source: 'env', envVar: name, message: coerced.problem });
          continue;
        }
        setPath(envLayer, key.path, coerced.value);
        fromEnv.set(key.key, name);
      }
      const merged = mergeLayers(fileLayer, envLayer);
      addMissingGroups(merged, spec.schema);
      const result = spec.schema.safeParse(merged);
      if (!result.success) {
        for (const issue of result.error.issues) {
          const issuePath = issue.path.map(String);
          const key = keys.find((k) => k.path.every((segment, i) => issuePath[i] === segment));
          if (key !== undefined && rejected.has(key.key)) continue;
          const path = issuePath.join('.') || '(root)';
          const envVar = key === undefined ? undefined : fromEnv.get(key.key);
          if (envVar !== undefined) {
            problems.push({ path, source: 'env', envVar, message: issue.message });
          } else if (hasPath(fileLayer, issuePath)) {
            problems.push({ path, source: 'file', message: issue.message });
          } else {
            const hint = key === undefined ? '' : `: set it in the file or with ${key.envVar}`;
            problems.push({ path, source: 'schema', message: `required${hint}` });
          }
        }
      }
      if (problems.length > 0 || !result.success) throw new ConfigError(problems);
      return deepFreeze(result.data) as DeepReadonly<z.output<S>>;
    },
    redact(config) {
      const copy = structuredClone(config) as Record<string, unknown>;
      for (const key of keys) {
        if (!key.secret) continue;
        const parent = key.path
          .slice(0, -1)
          .reduce<unknown>((node, segment) => (isRecord(node) ? node[segment] : undefined), copy);
        const leaf = key.path[key.path.length - 1];
        if (isRecord(parent) && leaf !== undefined && parent[leaf] !== '' && parent[leaf] !== undefined)
          parent[leaf] = REDACTED;
      }
      return copy;
    },
    toMarkdown() {
      return renderMarkdown(keys, fileEnvVar);
    },
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function readArgv(argv: readonly string[], problems: ConfigProblem[]): string | undefined {
  let path: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--config' && i + 1 < argv.length) path = argv[++i];
    else if (arg.startsWith('--config=')) path = arg.slice('--config='.length);
    else
      problems.push({
        path: arg,
        source: 'argv',
        message: 'unknown argument: only --config <path> is accepted',
      });
  }
  return path;
}

function readConfigFile(
  path: string,
  readFile: ((path: string) => string) | undefined,
  schema: z.ZodObject,
  problems: ConfigProblem[],
): Record<string, unknown> {
  if (readFile === undefined) {
    problems.push({
      path,
      source: 'file',
      message: 'a config file is named but no readFile was given to load()',
    });
    return {};
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(readFile(path));
  } catch (error) {
    problems.push({
      path,
      source: 'file',
      message: `cannot read or parse ${path}: ${(error as Error).message}`,
    });
    return {};
  }
  if (parsed === null || parsed === undefined) return {};
  if (!isRecord(parsed)) {
    problems.push({ path, source: 'file', message: `${path} must hold a mapping of keys at the top level` });
    return {};
  }
  findUnknownKeys(parsed, schema, [], problems);
  return parsed;
}

function findUnknownKeys(
  node: Record<string, unknown>,
  schema: z.ZodObject,
  parent: string[],
  problems: ConfigProblem[],
): void {
  const shape = schema.shape as Record<string, z.ZodType>;
  for (const [name, value] of Object.entries(node)) {
    const child = shape[name];
    const path = [...parent, name];
    if (child === undefined) {
      problems.push({ path: path.join('.'), source: 'file', message: 'unknown key' });
    } else if (isObjectSchema(child) && isRecord(value)) {
      findUnknownKeys(value, baseSchema(child) as z.ZodObject, path, problems);
    }
  }
}

type Coerced = { value: unknown } | { problem: string };

function coerceEnv(key: ConfigKeyInfo, raw: string): Coerced {
  const text = raw.trim();
  switch (key.kind) {
    case 'number': {
      const value = Number(text);
      return text === '' || !Number.isFinite(value)
        ? { problem: `expected a number, got "${raw}"` }
        : { value };
    }
    case 'boolean':
      if (['true', '1'].includes(text)) return { value: true };
      if (['false', '0'].includes(text)) return { value: false };
      return { problem: `expected true, false, 1 or 0, got "${raw}"` };
    case 'json':
      try {
        return { value: JSON.parse(text) as unknown };
      } catch {
        return { problem: `expected JSON (this key is not a plain string, number or boolean), got "${raw}"` };
      }
    default:
      return { value: raw };
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const segment of path.slice(0, -1)) {
    const next = node[segment];
    node = isRecord(next) ? next : (node[segment] = {});
  }
  const leaf = path[path.length - 1];
  if (leaf !== undefined) node[leaf] = value;
}

function hasPath(node: unknown, path: readonly string[]): boolean {
  let current = node;
  for (const segment of path) {
    if (!isRecord(current) || !(segment in current)) return false;
    current = current[segment];
  }
  return path.length > 0;
}

function mergeLayers(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [name, value] of Object.entries(over)) {
    const existing = out[name];
    out[name] = isRecord(existing) && isRecord(value) ? mergeLayers(existing, value) : value;
  }
  return out;
}

/** zod v4 returns an object `.default({})` as is, so nested groups are filled in to get inner defaults. */
function addMissingGroups(node: Record<string, unknown>, schema: z.ZodObject): void {
  const shape: Record<string, z.ZodType> = schema.shape;
  for (const [name, child] of Object.entries(shape)) {
    if (!isObjectSchema(child)) continue;
    if (node[name] === undefined) node[name] = {};
    const value = node[name];
    if (isRecord(value)) addMissingGroups(value, baseSchema(child) as z.ZodObject);
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function renderMarkdown(keys: readonly ConfigKeyInfo[], fileEnvVar: string): string {
  const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const rows = [
    '| key | env var | default | description |',
    '|---|---|---|---|',
    `| — | \`${fileEnvVar}\` | — | path of a YAML or JSON config file (or \`--config <path>\`) |`,
  ];
  for (const key of keys) {
    const shown = !key.hasDefault
      ? '*required*'
      : key.secret && key.defaultValue !== ''
        ? '*(secret)*'
        : `\`${JSON.stringify(key.defaultValue)}\``;
    const doc = `${key.description}${key.secret ? ' (secret)' : ''}`;
    rows.push(`| \`${key.key}\` | \`${key.envVar}\` | ${cell(shown)} | ${cell(doc)} |`);
  }
  return `${rows.join('\n')}\n`;
}
