/**
 * Runs the `sacrebleu` Python package as an independent peer (libs/text/test/sacrebleu-peer.py):
 * the parity test and bench/reward send it jobs as JSON and compare its answers with this package's.
 * The venv is installed on first use by libs/text/test/setup-sacrebleu.sh (idempotent; PyPI).
 * Synchronous on purpose: callers are tests and benchmarks that have nothing else to do meanwhile.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const TEST_DIR = fileURLToPath(new URL('../../test/', import.meta.url));

let python: string | undefined;

/**
 * The venv python that has sacrebleu, installing it first if needed.
 * @throws {Error} when the setup script fails (no python3, no network on first install).
 */
export function sacrebleuPython(): string {
  if (python === undefined) {
    const out = execFileSync('bash', [`${TEST_DIR}setup-sacrebleu.sh`], { encoding: 'utf8', stdio: 'pipe' });
    python = out.trim().split('\n').pop()!;
  }
  return python;
}

/** The peer's answer: sacrebleu's version and one result per job. */
export interface PeerResponse {
  /** `sacrebleu.__version__` of the peer. */
  readonly version: string;
  /** One result per job, in order; shapes are documented in sacrebleu-peer.py. */
  readonly results: unknown[];
}

/**
 * Sends `jobs` to a fresh peer process and returns its answer.
 * @throws {Error} when the peer exits non-zero (its stderr is in the message).
 */
export function runSacrebleuPeer(jobs: readonly object[]): PeerResponse {
  const out = execFileSync(sacrebleuPython(), [`${TEST_DIR}sacrebleu-peer.py`], {
    input: JSON.stringify({ jobs }),
    encoding: 'utf8',
    maxBuffer: 1 << 30,
    stdio: 'pipe',
  });
  return JSON.parse(out) as PeerResponse;
}
