/**
 * Schema helpers for service config (`duration()`, `byteSize()`, `secret()`) and the walk over a zod
 * object schema that `defineConfig` uses to find every key, its env var, kind, default and doc line.
 *
 * It reads zod's definition objects (`schema.def`) rather than parsing anything, and follows only the
 * wrappers a config key plausibly has (default, prefault, optional, nullable, readonly, catch, pipe).
 */
import { z } from 'zod';
import { parseBytes, parseDurationMs } from './units.js';

/** How a key's value is written in an env var, which decides how the raw string is coerced. */
export type ConfigValueKind = 'string' | 'enum' | 'number' | 'boolean' | 'duration' | 'bytes' | 'json';

/** One leaf key of a config schema, as the loader, redaction and the docs table see it. */
export interface ConfigKeyInfo {
  /** Path of the key, e.g. `['grpc', 'maxReceiveMessageBytes']`. */
  readonly path: readonly string[];
  /** Dotted path, e.g. `grpc.maxReceiveMessageBytes`. */
  readonly key: string;
  /** Env var that sets it, e.g. `POLICY_GRPC__MAX_RECEIVE_MESSAGE_BYTES`. */
  readonly envVar: string;
  readonly kind: ConfigValueKind;
  /** The `.describe()` text. */
  readonly description: string;
  /** Whether the value is masked by `redact()` and in docs. */
  readonly secret: boolean;
  /** The default as written in the schema (input form, e.g. `"30s"`), or undefined when required. */
  readonly defaultValue: unknown;
  readonly hasDefault: boolean;
  /** Whether the schema accepts `undefined` without a default (rejected by `defineConfig`). */
  readonly optional: boolean;
  readonly schema: z.ZodType;
}

const SECRET_SCHEMAS = new WeakSet<z.ZodType>();
const KIND_OVERRIDES = new WeakMap<z.ZodType, ConfigValueKind>();

/**
 * Marks a config key as secret: `redact()` and the docs table mask its value. Works wherever it sits
 * in the chain, e.g. `secret(z.string()).default('').describe('...')`.
 */
export function secret<T extends z.ZodType>(schema: T): T {
  SECRET_SCHEMAS.add(schema);
  return schema;
}

function unitSchema(
  kind: ConfigValueKind,
  parse: (text: string) => number,
  defaultValue?: string,
): z.ZodType<number, string> {
  // Numbers are let in only to be rejected with the unit message: YAML reads `timeout: 30` as a number.
  const base = z.union([z.string(), z.number()]).transform((text, ctx) => {
    try {
      return parse(String(text));
    } catch (error) {
      ctx.issues.push({ code: 'custom', message: (error as Error).message, input: text });
      return z.NEVER;
    }
  });
  KIND_OVERRIDES.set(base, kind);
  return (defaultValue === undefined ? base : base.prefault(defaultValue)) as unknown as z.ZodType<
    number,
    string
  >;
}

/**
 * A duration key: accepts strings such as `"30s"`, `"500ms"`, `"2m"`, `"1m30s"` and yields integer
 * milliseconds. Name such keys `...Ms`. Bare numbers are rejected (the unit is never guessed).
 *
 * @param defaultValue the default, written as a duration string; omit to make the key required
 */
export function duration(defaultValue?: string): z.ZodType<number, string> {
  if (defaultValue !== undefined) parseDurationMs(defaultValue);
  return unitSchema('duration', parseDurationMs, defaultValue);
}

/**
 * A byte-size key: accepts strings such as `"64MiB"`, `"512KiB"`, `"100MB"` and yields integer bytes.
 * Name such keys `...Bytes`.
 *
 * @param defaultValue the default, written as a size string; omit to make the key required
 */
export function byteSize(defaultValue?: string): z.ZodType<number, string> {
  if (defaultValue !== undefined) parseBytes(defaultValue);
  return unitSchema('bytes', parseBytes, defaultValue);
}

interface LooseDef {
  readonly type: string;
  readonly innerType?: z.ZodType;
  readonly in?: z.ZodType;
  readonly defaultValue?: unknown;
  readonly options?: readonly z.ZodType[];
}

function defOf(schema: z.ZodType): LooseDef {
  return schema.def;
}

const WRAPPERS = new Set(['default', 'prefault', 'optional', 'nullable', 'readonly', 'catch', 'nonoptional']);

/** The schema and every schema it wraps, outermost first. */
export function wrapperChain(schema: z.ZodType): z.ZodType[] {
  const chain: z.ZodType[] = [];
  let current: z.ZodType | undefined = schema;
  while (current !== undefined && chain.length < 32) {
    chain.push(current);
    const def = defOf(current);
    current = WRAPPERS.has(def.type) ? def.innerType : def.type === 'pipe' ? def.in : undefined;
  }
  return chain;
}

/** The innermost schema of a key, with its wrappers peeled off. */
export function baseSchema(schema: z.ZodType): z.ZodType {
  const chain = wrapperChain(schema);
  return chain[chain.length - 1] ?? schema;
}

/** Whether a key holds a nested group of keys (a zod object) rather than a value. */
export function isObjectSchema(schema: z.ZodType): schema is z.ZodObject {
  return defOf(baseSchema(schema)).type === 'object';
}

function kindOf(chain: readonly z.ZodType[]): ConfigValueKind {
  for (const node of chain) {
    const override = KIND_OVERRIDES.get(node);
    if (override !== undefined) return override;
  }
  const base = chain[chain.length - 1];
  if (base === undefined) return 'string';
  const def = defOf(base);
  switch (def.type) {
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'enum':
    case 'literal':
      return 'enum';
    case 'string':
    case 'template_literal':
      return 'string';
    case 'union': {
      const kinds = (def.options ?? []).map((option) => kindOf(wrapperChain(option)));
      return kinds.every((k) => k === 'number')
        ? 'number'
        : kinds.every((k) => k === 'boolean')
          ? 'boolean'
          : 'string';
    }
    default:
      return 'json';
  }
}

/** SCREAMING_SNAKE form of a camelCase key: `maxReceiveMessageBytes` → `MAX_RECEIVE_MESSAGE_BYTES`. */
export function screamingSnake(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/**
 * The env var of a key: `<PREFIX>_` then each path segment in SCREAMING_SNAKE, joined by `__`
 * (a double underscore marks nesting, because a single one already separates words).
 */
export function envVarOf(prefix: string, path: readonly string[]): string {
  return `${prefix}_${path.map(screamingSnake).join('__')}`;
}

/** Every leaf key of an object schema, depth first in declaration order. */
export function collectKeys(
  prefix: string,
  schema: z.ZodObject,
  parent: readonly string[] = [],
): ConfigKeyInfo[] {
  const keys: ConfigKeyInfo[] = [];
  for (const [name, child] of Object.entries(schema.shape) as [string, z.ZodType][]) {
    const path = [...parent, name];
    if (isObjectSchema(child)) {
      keys.push(...collectKeys(prefix, baseSchema(child) as z.ZodObject, path));
      continue;
    }
    const chain = wrapperChain(child);
    const defaultNode = chain.find((node) => ['default', 'prefault'].includes(defOf(node).type));
    keys.push({
      path,
      key: path.join('.'),
      envVar: envVarOf(prefix, path),
      kind: kindOf(chain),
      description: chain.map((node) => node.description).find((d) => d !== undefined) ?? '',
      secret: chain.some((node) => SECRET_SCHEMAS.has(node)),
      defaultValue: defaultNode === undefined ? undefined : defOf(defaultNode).defaultValue,
      hasDefault: defaultNode !== undefined,
      optional: defaultNode === undefined && chain.some((node) => defOf(node).type === 'optional'),
      schema: child,
    });
  }
  return keys;
}
