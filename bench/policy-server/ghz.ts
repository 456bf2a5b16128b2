/**
 * ghz (the gRPC load tool, installed by install-ghz.sh) as a child process, for the benches that
 * drive the server in this process with it: one run of `Translate` at a fixed concurrency.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');

/** Where install-ghz.sh puts ghz. */
export const DEFAULT_GHZ = join(
  process.env['REST_TOOLS_DIR'] ?? join(process.env['HOME'] ?? '', '.cache', 'rest-tools'),
  'bin',
  'ghz',
);

/** What the benches read of ghz's JSON report (durations in ns). */
export interface GhzReport {
  count: number;
  total: number;
  /** Mean latency, ns. */
  average: number;
  fastest: number;
  latencyDistribution: { percentage: number; latency: number }[] | null;
  statusCodeDistribution: Record<string, number>;
}

/**
 * Runs ghz against `rest.v1.PolicyService/Translate` at `address` with `level` concurrent callers
 * for `seconds`, cycling through the requests of `dataFile` (a JSON array), asynchronously: the
 * server it loads lives in this process. Rejects with ghz's stderr when it fails.
 */
export function runGhz(
  ghz: string,
  address: string,
  dataFile: string,
  level: number,
  seconds: number,
): Promise<GhzReport> {
  const child = spawn(
    ghz,
    [
      '--insecure',
      '--proto',
      join(ROOT, 'proto', 'rest', 'v1', 'policy.proto'),
      '--import-paths',
      join(ROOT, 'proto'),
      '--call',
      'rest.v1.PolicyService/Translate',
      '--data-file',
      dataFile,
      '--concurrency',
      String(level),
      '--duration',
      `${seconds}s`,
      '--duration-stop',
      'wait',
      '--timeout',
      '60s',
      '--cpus',
      '1',
      // The sources are plain text: no template actions to run per request (and a source with
      // "{{" in it stays as written).
      '--disable-template-functions',
      '--disable-template-data',
      '--format',
      'json',
      address,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolvePromise, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`ghz failed (${code}): ${stderr}`));
      else resolvePromise(JSON.parse(stdout) as GhzReport);
    });
  });
}

/** The request list (JSON) ghz cycles through for `sources` (greedy, `maxNew` tokens). */
export function translateRequests(policyId: string, sources: readonly string[], maxNew: number): string {
  return JSON.stringify(
    sources.map((s) => ({
      policy: { policy_id: policyId },
      sources: [s],
      decoding: { strategy: 'DECODING_STRATEGY_GREEDY', max_new_tokens: maxNew },
    })),
  );
}
