/**
 * What a lone caller's gRPC round trip costs around a wait, with nothing of the decode in it. ghz
 * calls `Translate` at concurrency 1 while the server's `PolicyServing.generate` is, in turn:
 *
 * - `real`: itself (a greedy decode of the source);
 * - `canned`: an answer ready at once (the same answer every time);
 * - `sleep`: that answer after a timer of D ms, D being the median in-process decode of a source
 *   measured first, with this process and the machine idle meanwhile;
 * - `busy`: that answer after D ms of spinning on the main thread, one core busy.
 *
 * Per mode the median over rounds (the modes rotated from round to round) of ghz's mean round trip,
 * the handler's mean time inside `PolicyServing.generate`, and the hop: round trip − handler, i.e.
 * gRPC, ghz and the serving layer's code outside `generate`. If the hop grows with a wait that does
 * no work (`sleep` against `canned`), that growth is not work the server does around a decode but
 * what waiting costs: waking an idle client and server.
 *
 *   node --conditions=source --import tsx bench/policy-server/idle-hop.ts --bundle policies/bench-d256 \
 *     [--rounds 3] [--duration 3] [--threads 2] [--max-new 32] [--idle-poll off|on]
 *
 * `--idle-poll on` holds the CPU latency request at 0 for the run (root; idle CPUs poll instead of
 * halting), to tell the machine's wake-up cost from the rest of the hop.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generate } from '@rest/runtime';
import { DEFAULT_GHZ, runGhz, translateRequests } from './ghz.js';
import {
  idlePolling,
  idleSetting,
  startLoneCallerBench,
  translateInput,
  type GenerateInput,
} from './local-server.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const { values: args } = parseArgs({
  options: {
    bundle: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    'max-new': { type: 'string', default: '32' },
    'idle-poll': { type: 'string', default: 'off' },
    ghz: { type: 'string', default: DEFAULT_GHZ },
    data: { type: 'string', default: resolve(ROOT, '..', 'shared', 'data', 'multi30k') },
  },
});
if (args.bundle === undefined) throw new Error('--bundle: a policy bundle folder is required');
const bundle = resolve(args.bundle);
const maxNew = Number(args['max-new']);
const sources = readFileSync(resolve(args.data, 'valid.de'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .slice(0, 1000);

const releaseIdlePolling = idlePolling(args['idle-poll']);
const { policyId, server, tok, lease, stop } = await startLoneCallerBench(bundle, args.threads, maxNew);
const dataFile = join(tmpdir(), `rest-idle-hop-${process.pid}.json`);
writeFileSync(dataFile, translateRequests(policyId, sources, maxNew));
const address = `127.0.0.1:${server.port}`;
const median = (a: readonly number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

type Mode = 'real' | 'canned' | 'sleep' | 'busy';
const serving = server.serving;
const realGenerate = serving.generate.bind(serving);
const canned = await realGenerate(translateInput(policyId, sources[0]!, maxNew));
let mode: Mode = 'real';
let waitMs = 0;
let handlerMs = 0;
let handled = 0;
serving.generate = async (x: GenerateInput) => {
  const t0 = performance.now();
  try {
    switch (mode) {
      case 'real':
        return await realGenerate(x);
      case 'sleep':
        await new Promise((r) => setTimeout(r, waitMs));
        return canned;
      case 'busy':
        while (performance.now() - t0 < waitMs);
        return canned;
      case 'canned':
        return canned;
    }
  } finally {
    handlerMs += performance.now() - t0;
    handled++;
  }
};

try {
  // D: the median in-process decode of a source, as the bench's in-process side decodes it.
  const decodeMs: number[] = [];
  for (const [i, s] of sources.slice(0, 220).entries()) {
    const t0 = performance.now();
    const out = await generate(lease.policy.model, [tok.encode(s)], {
      strategy: 'greedy',
      maxNewTokens: maxNew,
    });
    tok.decode(out[0]![0]!.tokenIds);
    if (i >= 20) decodeMs.push(performance.now() - t0);
  }
  waitMs = Math.round(median(decodeMs));
  console.log(`${idleSetting()}, idle polling ${args['idle-poll']}`);
  console.log(`median in-process decode ${median(decodeMs).toFixed(2)} ms: sleep and busy wait ${waitMs} ms`);
  await runGhz(args.ghz, address, dataFile, 1, 2); // warm-up of the server's JIT and ghz
  const modes: Mode[] = ['real', 'canned', 'sleep', 'busy'];
  const figures = new Map<Mode, { rtt: number[]; handler: number[]; hop: number[] }>(
    modes.map((m) => [m, { rtt: [], handler: [], hop: [] }]),
  );
  for (let round = 0; round < Number(args.rounds); round++) {
    for (let k = 0; k < modes.length; k++) {
      mode = modes[(round + k) % modes.length]!;
      handlerMs = 0;
      handled = 0;
      const report = await runGhz(args.ghz, address, dataFile, 1, Number(args.duration));
      const rtt = report.average / 1e6;
      const handler = handlerMs / Math.max(1, handled);
      const f = figures.get(mode)!;
      f.rtt.push(rtt);
      f.handler.push(handler);
      f.hop.push(rtt - handler);
      console.error(
        `  round ${round + 1} ${mode}: ${report.count} calls, round trip ${rtt.toFixed(3)} ms, handler ${handler.toFixed(3)} ms`,
      );
    }
  }
  console.log(
    '\n| mode | round trip, ms | in `PolicyServing.generate`, ms | hop (round trip − handler), ms, median (range) |',
  );
  console.log('|---|---:|---:|---|');
  for (const [m, f] of figures)
    console.log(
      `| ${m} | ${median(f.rtt).toFixed(3)} | ${median(f.handler).toFixed(3)} | ${median(f.hop).toFixed(3)} (${Math.min(...f.hop).toFixed(3)} to ${Math.max(...f.hop).toFixed(3)}) |`,
    );
} finally {
  await stop();
  releaseIdlePolling();
}
