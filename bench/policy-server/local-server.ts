/**
 * The policy server both benches start: the real one on loopback (gRPC and metrics on port 0), with
 * NATS and FerretDB from testkit, serving one bundle from its folder with the given settings on top.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { loadConfig, startPolicyServer, type PolicyServer } from '@rest/policy-server';
import { NOOP_LOGGER } from '@rest/service-kit';
import { loadTokenizer } from '@rest/text';
import { startInfra, type Infra } from '@rest/testkit';

/** The id the server gives a folder: rest.json's policyId, else the folder name. */
export function bundlePolicyId(bundle: string): string {
  return (
    (JSON.parse(readFileSync(join(bundle, 'rest.json'), 'utf8')) as { policyId?: string }).policyId ??
    basename(bundle)
  );
}

/**
 * Starts NATS, FerretDB and the server for `bundle` preloaded; `env` adds or overrides `POLICY_*`
 * settings (threads, batching, limits).
 */
export async function startLocalServer(
  bundle: string,
  env: Readonly<Record<string, string>>,
): Promise<{ infra: Infra; server: PolicyServer }> {
  const infra = await startInfra();
  const config = loadConfig({
    env: {
      POLICY_GRPC__HOST: '127.0.0.1',
      POLICY_GRPC__PORT: '0',
      POLICY_GRPC__METRICS_PORT: '0',
      POLICY_LOG_LEVEL: 'error',
      POLICY_NATS_URL: infra.natsUrl,
      POLICY_MONGO_URI: infra.mongoUri,
      POLICY_MONGO_DB: `bench_${process.pid}`,
      POLICY_POLICIES__DIRS: JSON.stringify([bundle]),
      POLICY_POLICIES__PRELOAD: JSON.stringify([bundlePolicyId(bundle)]),
      ...env,
    },
  });
  return { infra, server: await startPolicyServer({ config, logger: NOOP_LOGGER }) };
}

/**
 * The setup of the lone-caller benches (hop.ts, idle-hop.ts): the server for `bundle` with
 * `threads` intra-op threads (no spinning) and room for `maxNew` tokens, the bundle's tokenizer, and
 * a lease on its model for decoding in this process. Stop with `stop()`.
 */
export async function startLoneCallerBench(bundle: string, threads: string, maxNew: number) {
  const policyId = bundlePolicyId(bundle);
  const { infra, server } = await startLocalServer(bundle, {
    POLICY_RUNTIME__INTRA_OP_THREADS: threads,
    POLICY_RUNTIME__ALLOW_SPINNING: 'false',
    POLICY_LIMITS__MAX_NEW_TOKENS: String(Math.max(512, maxNew)),
  });
  const tok = await loadTokenizer(bundle);
  const lease = await server.pool.acquire(policyId);
  const stop = async (): Promise<void> => {
    lease.release();
    await server.shutdown('bench done');
    await infra.stop();
  };
  return { policyId, server, tok, lease, stop };
}

/** What a `Translate` of one source with greedy decoding asks of `PolicyServing.generate`. */
export type GenerateInput = Parameters<PolicyServer['serving']['generate']>[0];

/** The serving-layer request a `Translate` handler makes for one source, greedy, `maxNew` tokens. */
export function translateInput(policyId: string, source: string, maxNew: number): GenerateInput {
  return {
    target: { kind: 'policy', policyId },
    requestKey: '',
    api: 'translate',
    signal: new AbortController().signal,
    sources: [source],
    decoding: {
      strategy: 'greedy',
      temperature: 0,
      topK: 0,
      topP: 0,
      seed: undefined,
      maxNewTokens: maxNew,
      numBeams: 0,
      lengthPenalty: undefined,
      numReturn: 0,
    },
    paths: {
      policy: 'TranslateRequest.policy',
      source: (i) => `TranslateRequest.sources[${i}]`,
      decoding: (field) => `TranslateRequest.decoding.${field}`,
    },
  };
}

/**
 * `--idle-poll on`: holds the kernel's CPU latency request at 0 µs (`/dev/cpu_dma_latency`, root
 * only) until the returned function is called, so idle CPUs poll instead of halting and a wake-up
 * does not go through the hypervisor. For measuring what the machine's idle states cost a lone
 * caller; the server never does this. `off` returns a no-op.
 */
export function idlePolling(option: string | undefined): () => void {
  if (option === undefined || option === 'off') return () => {};
  if (option !== 'on') throw new Error(`--idle-poll: on or off, got ${option}`);
  let fd: number;
  try {
    fd = openSync('/dev/cpu_dma_latency', 'w');
  } catch (e) {
    throw new Error(
      `--idle-poll on: cannot open /dev/cpu_dma_latency (${(e as Error).message}); it needs root and a kernel with CPU latency QoS`,
    );
  }
  writeSync(fd, Buffer.alloc(4)); // a 32-bit 0: no idle state with any exit latency
  return () => closeSync(fd);
}

/** The machine's idle setting, for a bench's header: cpuidle driver and governor, halt polling. */
export function idleSetting(): string {
  const read = (path: string): string | undefined => {
    try {
      return readFileSync(path, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  const cpuidle = '/sys/devices/system/cpu/cpuidle';
  const haltPoll = read('/sys/module/haltpoll/parameters/guest_halt_poll_ns');
  return `cpuidle ${read(join(cpuidle, 'current_driver')) ?? 'none'}/${read(join(cpuidle, 'current_governor_ro')) ?? read(join(cpuidle, 'current_governor')) ?? 'none'}${haltPoll === undefined ? '' : `, guest_halt_poll_ns ${haltPoll}`}`;
}
