/**
 * `rest run <spec.yaml>`: reads a run spec (YAML, or JSON, which YAML reads too) in the proto3 JSON
 * form of `rest.v1.RunSpec` (proto/rest/v1/run_spec.proto; keys in snake_case or camelCase), creates
 * the run with CoordinatorService.CreateRun and prints its id; `--watch` then follows it like
 * `rest watch`.
 *
 * ts-proto's `fromJSON` skips keys it does not know, so a misspelt key would silently fall back to
 * a default. The file is therefore parsed through a recording proxy: every key `fromJSON` never
 * reads (a typo, a field of another message, a second member of a oneof, a key given in both
 * spellings) is reported with its path. Values are checked by the coordinator, which lists every
 * bad field at once.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { runSpec } from '@rest/proto';
import { coordinatorClient } from '../clients.js';
import { followRun, RunEventView } from './watch.js';

/**
 * The keys of `doc` (recursively) that `parse` does not read, as paths such as
 * `threshold_schedule.fixed.tresholds`. Objects whose keys `parse` enumerates (proto maps such as
 * `labels`) accept any key.
 */
export function unreadKeys(doc: unknown, parse: (value: unknown) => unknown): string[] {
  interface Seen {
    readonly path: string;
    readonly read: Set<string>;
    enumerated: boolean;
  }
  const seen = new Map<object, Seen>();
  const proxies = new Map<object, object>();
  const wrap = (value: unknown, path: string): unknown => {
    if (typeof value !== 'object' || value === null) return value;
    const cached = proxies.get(value);
    if (cached !== undefined) return cached;
    const record: Seen = { path, read: new Set(), enumerated: false };
    seen.set(value, record);
    const isArray = Array.isArray(value);
    const proxy = new Proxy(value, {
      get(target, key, receiver) {
        const child: unknown = Reflect.get(target, key, receiver);
        if (typeof key !== 'string' || !Object.hasOwn(target, key)) return child;
        record.read.add(key);
        return wrap(child, isArray ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`);
      },
      ownKeys(target) {
        record.enumerated = true;
        return Reflect.ownKeys(target);
      },
    });
    proxies.set(value, proxy);
    return proxy;
  };
  parse(wrap(doc, ''));
  const unread: string[] = [];
  for (const [target, record] of seen) {
    if (Array.isArray(target) || record.enumerated) continue;
    for (const key of Object.keys(target)) {
      if (!record.read.has(key)) unread.push(record.path === '' ? key : `${record.path}.${key}`);
    }
  }
  return unread;
}

/** YAML integers are numbers, except those past 2^53 (a uint64 seed), which stay exact as bigint. */
function exactIntegers(_key: unknown, value: unknown): unknown {
  return typeof value === 'bigint' &&
    value >= BigInt(Number.MIN_SAFE_INTEGER) &&
    value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value;
}

/**
 * Reads a run-spec file into the wire message.
 * @throws Error naming the file when it is not YAML/JSON, is not a mapping, or has keys that are
 *   not RunSpec fields (each listed with its path)
 */
export async function readRunSpecFile(path: string): Promise<runSpec.RunSpec> {
  const text = await readFile(path, 'utf8');
  let doc: unknown;
  try {
    doc = parseYaml(text, exactIntegers, { intAsBigInt: true });
  } catch (err) {
    throw new Error(`${path}: not valid YAML or JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new Error(`${path}: must be a mapping of RunSpec fields (proto/rest/v1/run_spec.proto)`);
  }
  const fromJson = (value: unknown): runSpec.RunSpec => {
    try {
      return runSpec.RunSpec.fromJSON(value);
    } catch (err) {
      // fromJSON converts with BigInt()/Number(); BigInt throws on a fractional or non-numeric seed.
      throw new Error(`${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  const unknown = unreadKeys(doc, fromJson);
  if (unknown.length > 0) {
    throw new Error(
      `${path}: unknown key${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')} ` +
        '(not a RunSpec field, or given twice; see proto/rest/v1/run_spec.proto and cli/README.md)',
    );
  }
  return fromJson(doc);
}

/** Registers `rest run`. */
export function addRunCommand(program: Command): void {
  program
    .command('run')
    .description(
      'create a ReST run from a spec file (YAML or JSON, fields of rest.v1.RunSpec) and print its id; ' +
        '--watch follows it like `rest watch`',
    )
    .argument('<spec>', 'the run spec file, e.g. examples/demo.yaml')
    .option(
      '--id <run-id>',
      'choose the run id (1-128 of [A-Za-z0-9_-]); rerunning with the same id and spec is a no-op',
    )
    .option('--watch', 'follow the run until it ends; exit 0 when it completes, 1 otherwise', false)
    .option(
      '--coordinator <host:port>',
      'CoordinatorService address (else REST_COORDINATOR, else 127.0.0.1:50054)',
    )
    .action(async (file: string, opts: { id?: string; watch: boolean; coordinator?: string }) => {
      const spec = await readRunSpecFile(file);
      const client = coordinatorClient(opts.coordinator);
      try {
        const { run } = await client.call('createRun', { spec, runId: opts.id ?? '' });
        if (run === undefined) throw new Error('CreateRun answered without a run');
        console.log(run.runId);
        if (!opts.watch) return;
        const outcome = await followRun(client, run.runId, new RunEventView(process.stdout));
        if (outcome !== 'completed') process.exitCode = 1;
      } finally {
        client.close();
      }
    });
}
