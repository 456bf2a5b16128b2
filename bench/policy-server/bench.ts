/**
 * Policy-server throughput and latency over gRPC, driven by ghz (an ecosystem gRPC load tool),
 * against the same generation in-process, at several concurrencies. One source per request, greedy
 * decoding of `--max-new` tokens: translations/s, generated tokens/s, p50/p99 latency.
 *
 *   bash bench/policy-server/install-ghz.sh      # once: ghz v0.120.0 into ~/.cache/rest-tools/bin
 *   nice node --conditions=source --import tsx bench/policy-server/bench.ts \
 *     [--bundle DIR] [--levels 1,8,64] [--duration 5] [--rounds 5] [--threads 2] [--spinning off] [--max-new 32]
 *     [--max-wait 1ms] [--rejoin 20ms] [--continuous on|off] [--idle-poll off|on]
 *
 * - The server is the real one (`startPolicyServer`, config through the schema), on loopback, with
 *   NATS and FerretDB from testkit, serving the bundle from a local folder. ghz calls
 *   `rest.v1.PolicyService/Translate` with `-c <level>` for `--duration` seconds (after a 2 s
 *   warm-up run before a level's first round), cycling through Multi30k valid.de; tokens come
 *   from the server's own `policy_generated_tokens_total`.
 * - Each level runs `--rounds` rounds of every side, each round starting one side later than the
 *   last; ratios are taken within a round and reported as the median (and range) over rounds, a
 *   side's figures as its median round's (see "Rounds" in the README).
 * - In-process is what a caller linking @rest/runtime would do with the same concurrency and the
 *   same generation as the server:
 *   - with `--continuous on` (`batching.continuous`, off by default in the server and here;
 *     needs a bundle of ours with its trainer state): `<level>` callers on one `ContinuousBatch`,
 *     each adding its next source as soon as its last one is answered, stepped back to back; a
 *     translation's latency is from its `add` to its answer;
 *   - and, in both modes, batches of `<level>` sources, tokenised, `generate`d with the same session
 *     options, detokenised, back to back; a translation's latency is its batch's time (no RPC, no
 *     queueing, perfectly full batches: the ceiling of the batcher alone).
 *   The overhead is that of the server against the in-process side of its own kind.
 * - The serving layer without gRPC: `<level>` callers in this process, each calling the server's own
 *   `PolicyServing.generate` (the code a `Translate` handler calls: routing, the policy lease,
 *   tokenisation, the batcher or continuous batch, detokenisation, metrics) for its next source as
 *   soon as its last is answered. It splits the overhead in two: the serving layer (in-process
 *   side → serving) and the gRPC hop with the load tool (serving → ghz), which on one machine
 *   includes ghz's own CPU time on the cores the decoder uses.
 * - transformers.js in-process is the peer a Node team would reach for: the same bundle loaded with
 *   `AutoModelForSeq2SeqLM` (remote models off), batches of `<level>` sources with our tokenizer's
 *   ids (the same ids, see the cli parity test), right-padded, greedy `generate` of `--max-new`
 *   tokens, detokenised, back to back for the same duration. The ratio gRPC / transformers.js is
 *   what a caller gains by calling the server instead of decoding with transformers.js itself.
 * - Without `--bundle`, a synthetic policy is built (cached under the work folder): a 3+3-layer
 *   Transformer, d_model 256, with random parameters and a 4,000-token BPE vocabulary. Random
 *   parameters rarely emit the end token, so nearly every translation is `--max-new` tokens: the
 *   work per request is fixed, which is what a throughput comparison wants.
 * - `--idle-poll on` holds the kernel's CPU latency request at 0 µs for the whole run (root only):
 *   idle CPUs poll instead of halting, for every side alike. On a VM that halts an idle vCPU at once,
 *   this shows what its wake-ups cost; the header names the machine's idle setting either way.
 */
import { AutoModelForSeq2SeqLM, Tensor, env } from '@huggingface/transformers';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { PolicyServer } from '@rest/policy-server';
import {
  ContinuousBatch,
  generate,
  ParamTable,
  Seq2SeqModel,
  transformerParams,
  writePolicyBundle,
  type TransformerConfig,
} from '@rest/runtime';
import { loadTokenizer, trainBpe, writeTokenizerFiles } from '@rest/text';
import { DEFAULT_GHZ, runGhz, translateRequests } from './ghz.js';
import {
  bundlePolicyId,
  idlePolling,
  idleSetting,
  startLocalServer,
  translateInput,
} from './local-server.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const { values: args } = parseArgs({
  options: {
    bundle: { type: 'string' },
    levels: { type: 'string', default: '1,8,64' },
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '5' },
    threads: { type: 'string', default: '2' },
    spinning: { type: 'string', default: 'off' },
    'max-new': { type: 'string', default: '32' },
    'max-wait': { type: 'string', default: '1ms' },
    rejoin: { type: 'string', default: '20ms' },
    continuous: { type: 'string', default: 'off' },
    'idle-poll': { type: 'string', default: 'off' },
    work: { type: 'string', default: join(tmpdir(), 'rest-bench-policy-server') },
    ghz: { type: 'string', default: DEFAULT_GHZ },
    data: { type: 'string', default: resolve(ROOT, '..', 'shared', 'data', 'multi30k') },
  },
});
const levels = args.levels.split(',').map(Number);
const durationS = Number(args.duration);
const rounds = Number(args.rounds);
const threads = Number(args.threads);
const maxNew = Number(args['max-new']);
if (args.spinning !== 'on' && args.spinning !== 'off') throw new Error('--spinning: on or off');
if (args.continuous !== 'on' && args.continuous !== 'off') throw new Error('--continuous: on or off');
/** The same intra-op pool settings for the server and both in-process sides. */
const allowSpinning = args.spinning === 'on';
const sources = readFileSync(resolve(args.data, 'valid.de'), 'utf8').split('\n').filter(Boolean);

const SYNTHETIC: TransformerConfig = {
  vocabSize: 4000,
  dModel: 256,
  heads: 4,
  ffnDim: 1024,
  encoderLayers: 3,
  decoderLayers: 3,
  maxPositions: 256,
};

async function syntheticBundle(work: string): Promise<string> {
  const dir = join(work, 'synthetic-policy');
  if (existsSync(join(dir, 'trainer', 'state.safetensors'))) return dir;
  const tokDir = join(work, 'tokenizer');
  const train = (file: string): string[] =>
    readFileSync(resolve(args.data, file), 'utf8').split('\n').slice(0, 4000);
  await writeTokenizerFiles(
    tokDir,
    trainBpe([...train('train.de'), ...train('train.en')], { vocabSize: SYNTHETIC.vocabSize }),
  );
  const vocab = (await loadTokenizer(tokDir)).vocabSize;
  const config = { ...SYNTHETIC, vocabSize: vocab };
  const table = new ParamTable(transformerParams(config));
  const params = table.initialize(new Float32Array(table.size), 1);
  await writePolicyBundle(dir, {
    config,
    params,
    // The trainer state carries the parameters the server's row-wise decoder is built from.
    trainerState: { step: 0, params, slots: {} },
    tokenizerDir: tokDir,
    lineage: { policyId: 'bench', producer: 'bench/policy-server' },
    generation: { maxLength: 256, numBeams: 1 },
  });
  return dir;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0
    ? NaN
    : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Figures {
  readonly translationsPerS: number;
  readonly tokensPerS: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  /** Mean sources per batch (gRPC: from the server's histogram; in-process: the level). */
  readonly meanBatch: number;
}

/** The middle element by `key` (the upper one of an even count). */
function medianBy<T>(items: readonly T[], key: (item: T) => number): T {
  return [...items].sort((a, b) => key(a) - key(b))[Math.floor(items.length / 2)]!;
}

/** Median and range of per-round values. */
interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return {
    median: Number.isInteger(mid) ? (sorted[mid - 1]! + sorted[mid]!) / 2 : sorted[Math.floor(mid)]!,
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
  };
}

/** Figures of an in-process side that started at `started`: one latency per translation. */
function inProcessFigures(started: number, latencies: number[], tokens: number, meanBatch: number): Figures {
  const elapsedS = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    translationsPerS: latencies.length / elapsedS,
    tokensPerS: tokens / elapsedS,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    errors: 0,
    meanBatch,
  };
}

/**
 * Back-to-back batches of `level` sources for `--duration` seconds, each decoded by `decode` (which
 * returns the tokens it generated); a translation's latency is its batch's time.
 */
async function timedBatches(
  level: number,
  decode: (batch: readonly string[]) => Promise<number>,
): Promise<Figures> {
  const latencies: number[] = [];
  let tokens = 0;
  let next = 0;
  const started = performance.now();
  while (performance.now() - started < durationS * 1000) {
    const t0 = performance.now();
    tokens += await decode(Array.from({ length: level }, () => sources[next++ % sources.length]!));
    const ms = performance.now() - t0;
    for (let i = 0; i < level; i++) latencies.push(ms);
  }
  return inProcessFigures(started, latencies, tokens, level);
}

/** Our decoding in-process (see the module comment). */
function inProcess(
  model: Seq2SeqModel,
  tok: Awaited<ReturnType<typeof loadTokenizer>>,
  level: number,
): Promise<Figures> {
  return timedBatches(level, async (batch) => {
    const out = await generate(
      model,
      batch.map((s) => tok.encode(s)),
      { strategy: 'greedy', maxNewTokens: maxNew },
    );
    let tokens = 0;
    for (const cs of out) {
      tok.decode(cs[0]!.tokenIds);
      tokens += cs[0]!.tokenIds.length;
    }
    return tokens;
  });
}

/**
 * `level` callers on one continuous batch (see the module comment), for `--duration` seconds; mean
 * batch is the mean number of sources per step.
 */
async function inProcessContinuous(
  batch: ContinuousBatch,
  tok: Awaited<ReturnType<typeof loadTokenizer>>,
  level: number,
): Promise<Figures> {
  const latencies: number[] = [];
  let tokens = 0;
  let next = 0;
  let rowSteps = 0;
  let steps = 0;
  const started = performance.now();
  const deadline = started + durationS * 1000;
  const call = (): void => {
    const t0 = performance.now();
    const { result } = batch.add(tok.encode(sources[next++ % sources.length]!), {
      strategy: 'greedy',
      maxNewTokens: maxNew,
    });
    void result.then((cs) => {
      tok.decode(cs[0]!.tokenIds);
      tokens += cs[0]!.tokenIds.length;
      latencies.push(performance.now() - t0);
      if (performance.now() < deadline) call();
    });
  };
  for (let i = 0; i < level; i++) call();
  while (batch.busy) {
    await batch.step();
    rowSteps += batch.liveRows;
    steps++;
    // The answers' callbacks (each caller's next source) run before the next step.
    await new Promise<void>((r) => setImmediate(r));
  }
  return inProcessFigures(started, latencies, tokens, rowSteps / Math.max(1, steps));
}

type TransformersModel = Awaited<ReturnType<typeof AutoModelForSeq2SeqLM.from_pretrained>>;

/** transformers.js doing the in-process side's work (see the module comment). */
function inProcessTransformersJs(
  theirs: TransformersModel,
  tok: Awaited<ReturnType<typeof loadTokenizer>>,
  level: number,
): Promise<Figures> {
  const eos = 1;
  return timedBatches(level, async (batch) => {
    const rows = batch.map((s) => tok.encode(s));
    const L = Math.max(...rows.map((r) => r.length));
    const input = new BigInt64Array(rows.length * L);
    const mask = new BigInt64Array(rows.length * L);
    rows.forEach((r, i) => r.forEach((t, j) => ((input[i * L + j] = BigInt(t)), (mask[i * L + j] = 1n))));
    const out = (await theirs.generate({
      inputs: new Tensor('int64', input, [rows.length, L]),
      attention_mask: new Tensor('int64', mask, [rows.length, L]),
      max_new_tokens: maxNew,
      do_sample: false,
      num_beams: 1,
    })) as Tensor;
    let tokens = 0;
    for (const r of (out.tolist() as bigint[][]).map((x) => x.map(Number).slice(1))) {
      const end = r.indexOf(eos);
      const gen = end < 0 ? r : r.slice(0, end + 1);
      tok.decode(gen);
      tokens += gen.length;
    }
    return tokens;
  });
}

/**
 * `level` callers on the server's `PolicyServing.generate`, no gRPC (see the module comment); the
 * mean batch comes from the server's histogram, as over gRPC.
 */
async function inServing(server: PolicyServer, level: number): Promise<Figures> {
  const metricsPort = server.metricsPort!;
  const before = await Promise.all(BATCH_SERIES.map((n) => metric(metricsPort, n)));
  const latencies: number[] = [];
  let tokens = 0;
  let next = 0;
  const started = performance.now();
  const deadline = started + durationS * 1000;
  const caller = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      const out = await server.serving.generate(
        translateInput(policyId, sources[next++ % sources.length]!, maxNew),
      );
      tokens += out.results[0]![0]!.tokenIds.length;
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: level }, caller));
  const after = await Promise.all(BATCH_SERIES.map((n) => metric(metricsPort, n)));
  const [sum, count] = after.map((a, i) => a - before[i]!);
  const figures = inProcessFigures(started, latencies, tokens, sum! / count!);
  console.error(
    `  c=${level}: serving layer ${figures.translationsPerS.toFixed(1)} translations/s, mean batch ${figures.meanBatch.toFixed(1)}`,
  );
  return figures;
}

/** The server's batch-size histogram: sum and count of sources per batch. */
const BATCH_SERIES = ['policy_batch_sources_sum', 'policy_batch_sources_count'];

/** Summed values of the server's series `name` (all label sets). */
async function metric(metricsPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.split(' ').pop());
  }
  return sum;
}

async function overGrpc(
  address: string,
  metricsPort: number,
  dataFile: string,
  level: number,
  warmUp: boolean,
): Promise<Figures> {
  if (warmUp) await runGhz(args.ghz, address, dataFile, level, 2); // the server's JIT and batcher at this level
  const names = [
    'policy_generated_tokens_total',
    'policy_batch_sources_sum',
    'policy_batch_sources_count',
    'policy_request_seconds_sum',
    'policy_request_seconds_count',
    'policy_batch_wait_seconds_sum',
    'policy_batch_wait_seconds_count',
    'policy_batch_seconds_sum',
    'policy_batch_seconds_count',
  ];
  const before = await Promise.all(names.map((n) => metric(metricsPort, n)));
  const report = await runGhz(args.ghz, address, dataFile, level, durationS);
  const after = await Promise.all(names.map((n) => metric(metricsPort, n)));
  const [tokens, batchSources, batches, reqS, reqs, waitS, waits, decodeS, decodes] = after.map(
    (a, i) => a - before[i]!,
  );
  // Where a request's time goes, as the server sees it (stderr; the table keeps ghz's figures).
  console.error(
    `  c=${level}: server mean request ${((reqS! / reqs!) * 1000).toFixed(2)} ms, mean batch wait ${((waitS! / waits!) * 1000).toFixed(2)} ms, mean batch decode ${((decodeS! / decodes!) * 1000).toFixed(2)} ms; ghz mean ${(report.average / 1e6).toFixed(2)} ms`,
  );
  const ok = report.statusCodeDistribution['OK'] ?? 0;
  const totalS = report.total / 1e9;
  const at = (p: number): number =>
    (report.latencyDistribution?.find((d) => d.percentage === p)?.latency ?? NaN) / 1e6;
  return {
    translationsPerS: ok / totalS,
    tokensPerS: tokens! / totalS,
    p50Ms: at(50),
    p99Ms: at(99),
    errors: report.count - ok,
    meanBatch: batchSources! / batches!,
  };
}

if (!existsSync(args.ghz)) {
  console.error(`ghz not found at ${args.ghz}: run bash bench/policy-server/install-ghz.sh`);
  process.exit(1);
}
const releaseIdlePolling = idlePolling(args['idle-poll']);
await mkdir(args.work, { recursive: true });
const bundle = args.bundle === undefined ? await syntheticBundle(args.work) : resolve(args.bundle);
const policyId = bundlePolicyId(bundle);
const dataFile = join(args.work, 'requests.json');
await writeFile(dataFile, translateRequests(policyId, sources.slice(0, 1000), maxNew));

const { infra, server } = await startLocalServer(bundle, {
  POLICY_RUNTIME__INTRA_OP_THREADS: String(threads),
  POLICY_RUNTIME__ALLOW_SPINNING: String(allowSpinning),
  POLICY_BATCHING__MAX_WAIT_MS: args['max-wait'],
  POLICY_BATCHING__REJOIN_WAIT_MS: args.rejoin,
  POLICY_BATCHING__MAX_BATCH_SOURCES: String(Math.max(...levels)),
  POLICY_LIMITS__MAX_NEW_TOKENS: String(Math.max(512, maxNew)),
  POLICY_BATCHING__CONTINUOUS: String(args.continuous === 'on'),
});
const address = `127.0.0.1:${server.port}`;
const tok = await loadTokenizer(bundle);
const { model, manifest } = await Seq2SeqModel.load(bundle, { intraOpThreads: threads, allowSpinning });
await generate(model, [tok.encode(sources[0]!)], { strategy: 'greedy', maxNewTokens: 2 });
const continuous =
  args.continuous === 'on'
    ? await ContinuousBatch.fromBundle(
        model,
        manifest,
        { intraOpThreads: threads, allowSpinning },
        { maxWaitMs: Number.parseFloat(args['max-wait']) },
      )
    : undefined;
if (args.continuous === 'on' && continuous === undefined)
  throw new Error(
    `--continuous on: ${bundle} has no trainer state or transformer config; use --continuous off`,
  );
env.allowRemoteModels = false;
env.localModelPath = dirname(bundle);
const theirs = await AutoModelForSeq2SeqLM.from_pretrained(basename(bundle), {
  dtype: 'fp32',
  session_options: {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    ...(allowSpinning ? {} : { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
  },
});

const rows: string[] = [];
try {
  for (const level of levels) {
    // Rounds alternate the sides, each round starting one side later than the last, so that a
    // slow spell of the shared machine falls on every side in turn. Each ratio is taken within a
    // round (sides seconds apart) and the table gives the median over rounds: the machine's speed
    // drifts by ±15% from one few-second block to the next, more than the overheads measured.
    const sides: { readonly name: string; readonly run: (round: number) => Promise<Figures> }[] = [
      ...(continuous === undefined
        ? []
        : [{ name: 'continuous', run: () => inProcessContinuous(continuous, tok, level) }]),
      { name: 'batches', run: () => inProcess(model, tok, level) },
      { name: 'serving', run: () => inServing(server, level) },
      {
        name: 'grpc',
        run: (round) => overGrpc(address, server.metricsPort!, dataFile, level, round === 0),
      },
      { name: 'transformers.js', run: () => inProcessTransformersJs(theirs, tok, level) },
    ];
    const own = continuous === undefined ? 'batches' : 'continuous';
    const byRound: Map<string, Figures>[] = [];
    for (let round = 0; round < rounds; round++) {
      const figures = new Map<string, Figures>();
      for (let k = 0; k < sides.length; k++) {
        const side = sides[(round + k) % sides.length]!;
        figures.set(side.name, await side.run(round));
      }
      byRound.push(figures);
      const tps = (name: string): number => figures.get(name)!.translationsPerS;
      console.error(
        `  c=${level} round ${round + 1}: ${[...figures].map(([name, f]) => `${name} ${f.translationsPerS.toFixed(1)}`).join(', ')} translations/s; gRPC / in-process ${(tps('grpc') / tps(own)).toFixed(3)}, gRPC / transformers.js ${(tps('grpc') / tps('transformers.js')).toFixed(2)}`,
      );
    }
    const medianRound = (side: string): Figures =>
      medianBy(
        byRound.map((r) => r.get(side)!),
        (f) => f.translationsPerS,
      );
    const ratio = (a: string, b: string): Spread =>
      spread(byRound.map((r) => r.get(a)!.translationsPerS / r.get(b)!.translationsPerS));
    const remote = medianRound('grpc');
    const peer = medianRound('transformers.js');
    const overhead = ratio('grpc', own);
    const servingLayer = ratio('serving', own);
    const grpcHop = ratio('grpc', 'serving');
    const vsPeer = ratio('grpc', 'transformers.js');
    const loss = (s: Spread): string =>
      `${((1 - s.median) * 100).toFixed(1)}% (${((1 - s.max) * 100).toFixed(1)} to ${((1 - s.min) * 100).toFixed(1)})`;
    const cells = (f: Figures): string =>
      `${f.translationsPerS.toFixed(1)} | ${f.tokensPerS.toFixed(0)} | ${f.p50Ms.toFixed(1)} | ${f.p99Ms.toFixed(1)}`;
    rows.push(
      `| ${level} | ${cells(remote)} | ${remote.meanBatch.toFixed(1)} | ${byRound.reduce((n, r) => n + r.get('grpc')!.errors, 0)} | ${cells(medianRound(own))} | ${loss(overhead)} | ${medianRound('serving').translationsPerS.toFixed(1)} | ${loss(servingLayer)} | ${loss(grpcHop)} | ${continuous === undefined ? '–' : medianRound('batches').translationsPerS.toFixed(1)} | ${peer.translationsPerS.toFixed(1)} | ${peer.p50Ms.toFixed(1)} | ${vsPeer.median.toFixed(2)}× (${vsPeer.min.toFixed(2)} to ${vsPeer.max.toFixed(2)}) |`,
    );
    console.error(`concurrency ${level} done`);
  }
} finally {
  await continuous?.release();
  await model.release();
  await server.shutdown('bench done');
  await infra.stop();
  releaseIdlePolling();
}
console.log(
  `bundle ${bundle}, greedy, ${maxNew} new tokens max, ${threads} intra-op threads (spinning ${args.spinning}), ${durationS} s per level, medians of ${rounds} rounds, batching.continuous ${args.continuous === 'on'}, batching.maxWaitMs ${args['max-wait']}, batching.rejoinWaitMs ${args.rejoin}; ${idleSetting()}, idle polling ${args['idle-poll']}`,
);
console.log('');
const kind = continuous === undefined ? 'in-process batches' : 'in-process continuous';
console.log(
  `| concurrency | gRPC translations/s | gRPC tokens/s | gRPC p50 ms | gRPC p99 ms | gRPC mean batch | errors | ${kind} translations/s | tokens/s | p50 ms | p99 ms | gRPC overhead | serving layer translations/s | of which serving layer | of which gRPC hop | in-process batches translations/s | transformers.js translations/s | transformers.js p50 ms | gRPC / transformers.js |`,
);
console.log(
  '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
);
for (const row of rows) console.log(row);
