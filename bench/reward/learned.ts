/**
 * Learned reward model throughput: (source, hypothesis) pairs per second scored through a real reward
 * server over gRPC (`RewardService.Score`, concurrent clients, the server's dynamic batching) against the
 * same ONNX model run directly through @rest/runtime's `Session` on the same pairs, in one process.
 * The overhead of the service (gRPC, validation, queueing, batching) is `1 − gRPC / raw`.
 *
 * - Model: `--model <dir>` (a reward.json folder, e.g. from `rest train-reward`); else a QE model of
 *   `--policy <bundle>`'s encoder size with its tokenizer; else the default policy size (d 256, 3 layers,
 *   4 heads, FFN 1024) with a BPE of 8,000 trained on Multi30k. Random weights score as fast as trained
 *   ones. The server loads the folder with `loadRewardModel`, as in production.
 * - Pairs: Multi30k valid (German source, English reference as the hypothesis), `--pairs` of them.
 * - Raw: pairs in file order, `--batch` at a time: encoded with the server's pair encoder (so tokenizing
 *   is counted on both sides), padded to the batch's longest, one `session.run` each.
 * - gRPC: the server on 127.0.0.1:0 with `batching.maxBatchItems = --batch`; `--clients` clients, each
 *   its own channel, each with one `Score` of `--items` pairs in flight at a time, splitting the pairs.
 * - Both use `--threads` onnxruntime intra-op threads. Rounds alternate raw and gRPC; the overhead is
 *   reported best against best and per round (each round's raw and gRPC passes run back to back, so a
 *   load change on a shared machine skews a round's ratio less than it skews the best-of figures).
 *
 * Usage: nice node --conditions=source --import tsx bench/reward/learned.ts [--model <dir> | --policy <bundle>]
 *          [--pairs 1014] [--batch 32] [--clients 4] [--items 16] [--rounds 5] [--threads 2]
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { reward } from '@rest/proto';
import { ParamTable, readBundleManifest, Session, hostTensor, type TransformerConfig } from '@rest/runtime';
import { createLogger } from '@rest/service-kit';
import { loadTokenizer, trainBpe, writeTokenizerFiles, type Tokenizer } from '@rest/text';
import {
  compileTemplate,
  encodePair,
  loadConfig,
  parseManifest,
  qeParams,
  startRewardServer,
  writeQeRewardBundle,
  type EncodedPair,
  type QeModelConfig,
  type ScoreItem,
} from '@rest/reward-server';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    policy: { type: 'string' },
    pairs: { type: 'string', default: '1014' },
    batch: { type: 'string', default: '32' },
    clients: { type: 'string', default: '4' },
    items: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '5' },
    threads: { type: 'string', default: '2' },
    data: {
      type: 'string',
      default: resolve(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'multi30k'),
    },
  },
});
const PAIRS = Number(args.pairs);
const BATCH = Number(args.batch);
const CLIENTS = Number(args.clients);
const ITEMS = Number(args.items);
const ROUNDS = Number(args.rounds);
const THREADS = Number(args.threads);

const read = async (name: string): Promise<string[]> =>
  (await readFile(join(args.data, name), 'utf8')).split('\n').filter((l) => l !== '');
const sources = (await read('valid.de')).slice(0, PAIRS);
const references = (await read('valid.en')).slice(0, PAIRS);
const items: ScoreItem[] = sources.map((source, i) => ({
  source,
  hypothesis: references[i]!,
  reference: undefined,
}));

/** A random-weight QE model folder of the given encoder size with the given tokenizer. */
async function randomModel(
  dir: string,
  tokenizer: Tokenizer,
  tokenizerDir: string,
  size: TransformerConfig,
): Promise<string> {
  const config: QeModelConfig = { encoder: size, range: { min: 0, max: 100 } };
  const table = new ParamTable(qeParams(config));
  const out = join(dir, 'rm-bench');
  await writeQeRewardBundle(out, {
    config,
    params: table.initialize(new Float32Array(table.size), 1),
    tokenizer,
    tokenizerDir,
    name: 'rm-bench',
    description: 'random-weight QE model for benchmarks',
    predicts: 'chrf',
    maxLength: 256,
    calibration: { mean: 50, std: 20 },
  });
  return out;
}

const work = await mkdtemp(join(tmpdir(), 'bench-reward-'));
let modelDir = args.model === undefined ? '' : resolve(args.model);
let what = `--model ${modelDir}`;
if (modelDir === '') {
  const size: TransformerConfig = {
    vocabSize: 0,
    dModel: 256,
    heads: 4,
    ffnDim: 1024,
    encoderLayers: 3,
    decoderLayers: 0,
    maxPositions: 256,
  };
  let tokenizerDir: string;
  if (args.policy !== undefined) {
    tokenizerDir = resolve(args.policy);
    const m = await readBundleManifest(tokenizerDir);
    if (m.transformer === undefined)
      throw new Error(`${tokenizerDir}: not one of our bundles (no rest_transformer)`);
    Object.assign(size, m.transformer, { decoderLayers: 0, dropout: 0, maxPositions: 256 });
    what = `random weights, the encoder size of ${tokenizerDir}`;
  } else {
    tokenizerDir = join(work, 'tokenizer');
    const lines = [
      ...(await read('train.de')).slice(0, 10_000),
      ...(await read('train.en')).slice(0, 10_000),
    ];
    await writeTokenizerFiles(tokenizerDir, trainBpe(lines, { vocabSize: 8000 }));
    what = 'random weights, default policy size';
  }
  const tokenizer = await loadTokenizer(tokenizerDir);
  size.vocabSize = tokenizer.vocabSize;
  size.padId = tokenizer.specialIds.pad;
  modelDir = await randomModel(work, tokenizer, tokenizerDir, size);
  what += ` (d ${size.dModel}, ${size.encoderLayers} layers, vocab ${size.vocabSize})`;
}

// Raw: the folder's ONNX file in a Session, the server's pair encoding.
const manifest = parseManifest(JSON.parse(await readFile(join(modelDir, 'reward.json'), 'utf8')), modelDir);
const tokenizer = await loadTokenizer(modelDir);
const template = compileTemplate(manifest.pairing.template, tokenizer);
const session = await Session.load(await readFile(join(modelDir, manifest.onnx)), {
  intraOpThreads: THREADS,
});

async function rawRound(): Promise<{ seconds: number; scores: number[] }> {
  const t0 = performance.now();
  const scores: number[] = [];
  for (let start = 0; start < items.length; start += BATCH) {
    const pairs = items
      .slice(start, start + BATCH)
      .map(
        (it) =>
          encodePair(template, tokenizer, it, manifest.maxLength, manifest.pairing.truncation) as EncodedPair,
      );
    const b = pairs.length;
    const s = Math.max(...pairs.map((p) => p.ids.length));
    const ids = new BigInt64Array(b * s).fill(BigInt(tokenizer.specialIds.pad)); // [B, S] i64
    const mask = new BigInt64Array(b * s); // [B, S] i64
    const types = new BigInt64Array(b * s); // [B, S] i64
    pairs.forEach((p, r) =>
      p.ids.forEach((id, c) => {
        ids[r * s + c] = BigInt(id);
        mask[r * s + c] = 1n;
        types[r * s + c] = BigInt(p.segments[c]!);
      }),
    );
    const byRole = { input_ids: ids, attention_mask: mask, token_type_ids: types };
    const feeds = Object.fromEntries(
      manifest.inputs.map((input) => [input.name, hostTensor('i64', [b, s], byRole[input.role])]),
    );
    const out = await session.run(feeds, {}, [manifest.output]);
    scores.push(...(out[manifest.output]!.data as Float32Array));
  }
  return { seconds: (performance.now() - t0) / 1000, scores };
}

// gRPC: a real server with the folder, CLIENTS clients on their own channels.
const config = loadConfig({
  env: {
    REWARD_GRPC__HOST: '127.0.0.1',
    REWARD_GRPC__PORT: '0',
    REWARD_GRPC__METRICS_PORT: '0',
    REWARD_MODELS__DIRS: JSON.stringify([modelDir]),
    REWARD_RUNTIME__INTRA_OP_THREADS: String(THREADS),
    REWARD_BATCHING__MAX_BATCH_ITEMS: String(BATCH),
    REWARD_LOG_LEVEL: 'warn',
  },
});
const server = await startRewardServer({
  config,
  logger: createLogger({ service: 'reward-server', level: 'warn' }),
});
const clients = Array.from(
  { length: CLIENTS },
  () =>
    new reward.RewardServiceClient(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
    }),
);

function score(client: reward.RewardServiceClient, chunk: readonly ScoreItem[]): Promise<number[]> {
  const request = reward.ScoreRequest.fromPartial({
    model: manifest.name,
    items: chunk.map((it) => ({ source: it.source, hypothesis: it.hypothesis, reference: '' })),
  });
  return new Promise((ok, fail) =>
    client.score(request, new grpc.Metadata(), { deadline: Date.now() + 60_000 }, (error, response) =>
      error === null ? ok(response.rawScores) : fail(error),
    ),
  );
}

async function grpcRound(): Promise<{ seconds: number; scores: number[] }> {
  const chunks: { at: number; items: ScoreItem[] }[] = [];
  for (let at = 0; at < items.length; at += ITEMS) chunks.push({ at, items: items.slice(at, at + ITEMS) });
  const scores = new Array<number>(items.length);
  const t0 = performance.now();
  await Promise.all(
    clients.map(async (client, c) => {
      for (let k = c; k < chunks.length; k += CLIENTS) {
        const got = await score(client, chunks[k]!.items);
        got.forEach((v, j) => (scores[chunks[k]!.at + j] = v));
      }
    }),
  );
  return { seconds: (performance.now() - t0) / 1000, scores };
}

try {
  await rawRound(); // warm-up
  await grpcRound();
  let raw = Infinity;
  let overGrpc = Infinity;
  let maxDiff = 0;
  const paired: number[] = []; // each round's overhead, raw and gRPC back to back
  for (let r = 0; r < ROUNDS; r++) {
    const a = await rawRound();
    const b = await grpcRound();
    raw = Math.min(raw, a.seconds);
    overGrpc = Math.min(overGrpc, b.seconds);
    paired.push(1 - a.seconds / b.seconds);
    a.scores.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - b.scores[i]!))));
    console.error(
      `round ${r + 1}: raw ${(items.length / a.seconds).toFixed(0)} pairs/s, gRPC ${(items.length / b.seconds).toFixed(0)} pairs/s`,
    );
  }
  const rawRate = items.length / raw;
  const grpcRate = items.length / overGrpc;
  const median = [...paired].sort((x, y) => x - y)[Math.floor(paired.length / 2)]!;
  const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;
  console.log(`model: ${what}`);
  console.log(
    `${items.length} pairs, batch ${BATCH}, ${CLIENTS} clients × ${ITEMS} items/request, ${THREADS} threads, ${ROUNDS} rounds`,
  );
  console.log('| path | pairs/s (best round) |\n|---|---:|');
  console.log(`| raw Session | ${rawRate.toFixed(0)} |`);
  console.log(`| gRPC Score | ${grpcRate.toFixed(0)} |`);
  console.log(
    `overhead 1 − gRPC/raw: ${pct(1 - grpcRate / rawRate)} best vs best; per round ${paired.map(pct).join(', ')}; ` +
      `median ${pct(median)} (target ≤ 10 %)`,
  );
  console.log(`max |gRPC − raw| score: ${maxDiff.toExponential(2)}`);
} finally {
  for (const c of clients) c.close();
  await server.shutdown('bench done');
  await session.release();
  await rm(work, { recursive: true, force: true });
}
