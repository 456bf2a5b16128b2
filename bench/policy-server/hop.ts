/**
 * Where a lone caller's time goes (concurrency 1), request by request: the server's model decoding a
 * source directly, the same source through `PolicyServing.generate`, and through `Translate` over
 * gRPC from a grpc-js client in this process, one after another on the same source (the order
 * rotated from source to source), so that the machine's drift falls on all three alike. Prints
 * medians of the per-request differences, the gRPC call split at `PolicyServing.generate`, the
 * serving layer split at the decode engine, and the round trips of calls that decode nothing
 * (ServerLive, an invalid Translate, a Translate whose serving answer is canned, and
 * `PolicyServing.generate` whose engine answer is canned), each also right after a 32 MB memory pass.
 *
 *   node --conditions=source --import tsx bench/policy-server/hop.ts --bundle policies/bench-d256 \
 *     [--sources 200] [--rounds 2] [--threads 2] [--max-new 32]
 */
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { PolicyServer } from '@rest/policy-server';
import { common, inference, policy } from '@rest/proto';
import { generate } from '@rest/runtime';
import { startLoneCallerBench, translateInput, type GenerateInput } from './local-server.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const { values: args } = parseArgs({
  options: {
    bundle: { type: 'string' },
    sources: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '2' },
    threads: { type: 'string', default: '2' },
    'max-new': { type: 'string', default: '32' },
    data: { type: 'string', default: resolve(ROOT, '..', 'shared', 'data', 'multi30k') },
  },
});
if (args.bundle === undefined) throw new Error('--bundle: a policy bundle folder is required');
const bundle = resolve(args.bundle);
const maxNew = Number(args['max-new']);
const sources = readFileSync(resolve(args.data, 'valid.de'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .slice(0, Number(args.sources));

const { policyId, server, tok, lease, stop } = await startLoneCallerBench(bundle, args.threads, maxNew);
const address = `127.0.0.1:${server.port}`;
const client = new policy.PolicyServiceClient(address, grpc.credentials.createInsecure());
const oip = new inference.GRPCInferenceServiceClient(address, grpc.credentials.createInsecure());

type PolicyServing = PolicyServer['serving'];
type GenerateOutput = Awaited<ReturnType<PolicyServing['generate']>>;
const input = (source: string): GenerateInput => translateInput(policyId, source, maxNew);
const unary = <Req>(call: (req: Req, cb: (e: grpc.ServiceError | null) => void) => unknown, req: Req) =>
  new Promise<grpc.ServiceError | null>((res) => call(req, (e) => res(e)));
const translate = (sources: string[]) =>
  unary(client.translate.bind(client), {
    policy: { ref: { $case: 'policyId', policyId } },
    sources,
    requestKey: '',
    decoding: {
      strategy: common.DecodingStrategy.DECODING_STRATEGY_GREEDY,
      temperature: 0,
      topK: 0,
      topP: 0,
      seed: undefined,
      maxNewTokens: maxNew,
      numBeams: 0,
      lengthPenalty: undefined,
      numReturnSequences: 0,
    },
  });

// Times PolicyServing.generate from inside: when the handler enters it and when it answers.
const serving = server.serving;
const realGenerate = serving.generate.bind(serving);
let enteredMs = 0;
let answeredMs = 0;
let canned: GenerateOutput | undefined;
serving.generate = async (x: GenerateInput) => {
  enteredMs = performance.now();
  try {
    return canned ?? (await realGenerate(x));
  } finally {
    answeredMs = performance.now();
  }
};

// Times the decode engine's part of a serving call (batcher, gate, lane and the decode); with
// `engineCanned` set it answers at once, so that the serving layer's own work is timed without a decode.
const engine = server.engine;
const realEngineGenerate = engine.generate.bind(engine);
let engineMs = 0;
let engineCanned: Awaited<ReturnType<typeof realEngineGenerate>> | undefined;
let engineLast: typeof engineCanned;
engine.generate = async (...a: Parameters<typeof realEngineGenerate>) => {
  const t0 = performance.now();
  try {
    return engineCanned ?? (engineLast = await realEngineGenerate(...a));
  } finally {
    engineMs = performance.now() - t0;
  }
};

const timed = async (f: () => Promise<unknown>): Promise<number> => {
  const t = performance.now();
  await f();
  return performance.now() - t;
};
const median = (a: readonly number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const ms = (x: number): string => `${x.toFixed(3)} ms`;

try {
  // Round trips that decode nothing.
  canned = await realGenerate(input(sources[0]!));
  engineCanned = engineLast;
  const quick: [string, () => Promise<unknown>][] = [
    ['ServerLive', () => unary(oip.serverLive.bind(oip), {})],
    ['Translate refused (no sources)', () => translate([])],
    ['Translate, serving answer canned', () => translate([sources[0]!])],
    ['PolicyServing.generate, engine answer canned', () => realGenerate(input(sources[0]!))],
  ];
  // Each also right after a pass over 32 MB, which evicts this core's caches as a decode does: is
  // the slower hop around a real decode the same code running cold?
  const sweep = new Float32Array(8 << 20);
  const evict = (): void => {
    for (let j = 0; j < sweep.length; j += 16) sweep[j]! += 1;
  };
  for (const [name, f] of quick) {
    for (let i = 0; i < 50; i++) await f();
    const warm: number[] = [];
    const cold: number[] = [];
    for (let i = 0; i < 500; i++) {
      warm.push(await timed(f));
      evict();
      cold.push(await timed(f));
    }
    console.log(`${name}: median round trip ${ms(median(warm))}, after a 32 MB pass ${ms(median(cold))}`);
  }
  canned = undefined;
  engineCanned = undefined;

  const direct = async (s: string): Promise<void> => {
    const out = await generate(lease.policy.model, [tok.encode(s)], {
      strategy: 'greedy',
      maxNewTokens: maxNew,
    });
    tok.decode(out[0]![0]!.tokenIds);
  };
  for (const s of sources.slice(0, 20)) {
    await direct(s);
    await serving.generate(input(s));
    await translate([s]);
  }
  for (let round = 1; round <= Number(args.rounds); round++) {
    const model: number[] = [];
    const layer: number[] = [];
    const inEngine: number[] = [];
    const overGrpc: number[] = [];
    const toServing: number[] = [];
    const fromServing: number[] = [];
    for (const [i, s] of sources.entries()) {
      for (let k = 0; k < 3; k++) {
        const side = (i + k) % 3;
        if (side === 0) model.push(await timed(() => direct(s)));
        else if (side === 1) {
          layer.push(await timed(() => serving.generate(input(s))));
          inEngine.push(engineMs);
        } else {
          const t0 = performance.now();
          const error = await translate([s]);
          if (error !== null) throw error;
          overGrpc.push(performance.now() - t0);
          toServing.push(enteredMs - t0);
          fromServing.push(performance.now() - answeredMs);
        }
      }
    }
    const diff = (a: number[], b: number[]) => median(a.map((x, i) => x - b[i]!));
    console.log(
      `round ${round}: median per request: model ${ms(median(model))}, serving layer ${ms(median(layer))}, gRPC ${ms(median(overGrpc))}; ` +
        `serving − model ${ms(diff(layer, model))}, gRPC − serving ${ms(diff(overGrpc, layer))} ` +
        `(client → generate ${ms(median(toServing))}, generate → client ${ms(median(fromServing))}); ` +
        `serving − model splits into engine − model ${ms(diff(inEngine, model))} and serving − engine ${ms(diff(layer, inEngine))}`,
    );
  }
} finally {
  client.close();
  oip.close();
  await stop();
}
