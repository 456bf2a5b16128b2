/**
 * `rest status [run-id]`: without an id, a table of runs (newest first, from ListRuns); with one,
 * the run's spec summary and state, its metrics history (one row per point: key, values) and the
 * evaluation points (reward and reference metrics per Grow/Improve step), from GetRun.
 */
import type { Command } from 'commander';
import { coordinator, runSpec } from '@rest/proto';
import { coordinatorClient, numberFlag } from '../clients.js';
import { fmt, formatValues } from './watch.js';

/** Lays out rows under a header, columns padded to their widest cell. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const STATE_PREFIX = 'RUN_STATE_';

/** `completed`, `growing`, … */
export function stateName(state: coordinator.RunState): string {
  return coordinator.runStateToJSON(state).replace(STATE_PREFIX, '').toLowerCase();
}

/** The RunState of a `--state` flag value such as `failed`. */
function parseState(value: string): coordinator.RunState {
  const state = coordinator.runStateFromJSON(`${STATE_PREFIX}${value.toUpperCase()}`);
  if (state === coordinator.RunState.UNRECOGNIZED || state === coordinator.RunState.RUN_STATE_UNSPECIFIED) {
    throw new Error(
      `--state: must be one of pending, growing, improving, evaluating, completed, failed, cancelled (got ${value})`,
    );
  }
  return state;
}

function when(date: Date | undefined): string {
  return date === undefined
    ? '–'
    : date
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z');
}

/** `g/G` of a step counter against its spec total. */
function of(step: number, total: number | undefined): string {
  return `${step}/${total ?? '?'}`;
}

/** The runs table. */
export function formatRunList(runs: readonly coordinator.Run[]): string {
  if (runs.length === 0) return 'no runs';
  return table(
    ['RUN', 'STATE', 'GROW', 'IMPROVE', 'POLICY', 'UPDATED'],
    runs.map((r) => [
      r.runId,
      stateName(r.state),
      of(r.grow, r.spec?.growSteps),
      of(r.improve, r.spec?.improveSteps),
      r.policyId,
      when(r.updatedAt),
    ]),
  );
}

function scheduleText(s: runSpec.ThresholdSchedule | undefined): string {
  const one = s?.schedule;
  switch (one?.$case) {
    case undefined:
      return '–';
    case 'fixed':
      return `fixed τ ${one.fixed.thresholds.join(', ')}${s?.disableMeanGuard === true ? ' (no mean guard)' : ''}`;
    case 'percentile':
      return `per-source percentile ${one.percentile.percentiles.join(', ')}`;
    case 'interpolation':
      return `per-source interpolation γ ${one.interpolation.gammas.join(', ')}`;
  }
}

/** Keys of evaluation points: `g<g>/i<i>/eval` and `test/eval`. */
const EVAL_KEY = /^(g\d+\/i\d+|test)\/eval$/;
/** Values of an eval point that describe the reward, not a reference metric. */
const REWARD_VALUES = new Set(['reward_mean', 'reward_std', 'reward_min', 'reward_max', 'num_sources']);

/** The evaluation points as a table: reward mean ± std, then each reference metric (bleu, chrf, …). */
export function formatEvalTable(history: readonly coordinator.RunMetrics[]): string | undefined {
  const points = history.filter((m) => EVAL_KEY.test(m.key));
  if (points.length === 0) return undefined;
  const metrics = [...new Set(points.flatMap((m) => Object.keys(m.values)))]
    .filter((k) => !REWARD_VALUES.has(k))
    .sort();
  return table(
    ['EVAL', 'REWARD', ...metrics.map((m) => m.toUpperCase()), 'SOURCES'],
    points.map((m) => {
      const v = m.values;
      const reward =
        v['reward_mean'] === undefined
          ? '–'
          : `${fmt(v['reward_mean'])}${v['reward_std'] === undefined ? '' : ` ± ${fmt(v['reward_std'])}`}`;
      return [
        m.key.replace(/\/eval$/, ''),
        reward,
        ...metrics.map((k) => (v[k] === undefined ? '–' : fmt(v[k], 2))),
        v['num_sources'] === undefined ? '–' : fmt(v['num_sources']),
      ];
    }),
  );
}

/** One run: summary, metrics history and evaluation points. */
export function formatRun(run: coordinator.Run): string {
  const s = run.spec;
  const lines = [
    `run        ${run.runId}${s?.displayName ? ` (${s.displayName})` : ''}`,
    `state      ${stateName(run.state)} · grow ${of(run.grow, s?.growSteps)} · improve ${of(run.improve, s?.improveSteps)} · version ${run.version}`,
    `policy     ${run.policyId}${run.finalPolicyId === '' ? '' : ` (final ${run.finalPolicyId})`}`,
    ...(run.error === '' ? [] : [`error      ${run.error}`]),
    `dataset    ${s?.dataset?.name ?? '–'} · base policy ${s?.basePolicyId ?? '–'} · reward ${s?.reward?.model ?? '–'}`,
    `schedule   G ${s?.growSteps ?? '?'} · I ${s?.improveSteps ?? '?'} · N ${s?.samplesPerSource ?? '?'} · ${scheduleText(s?.thresholdSchedule)}`,
    `created    ${when(run.createdAt)} · updated ${when(run.updatedAt)}`,
  ];
  if (run.history.length === 0) return [...lines, '', 'no metrics yet'].join('\n');
  lines.push(
    '',
    table(
      ['KEY', 'VALUES'],
      run.history.map((m) => [m.key, formatValues(m.values)]),
    ),
  );
  const evals = formatEvalTable(run.history);
  if (evals !== undefined) lines.push('', evals);
  return lines.join('\n');
}

/** Registers `rest status`. */
export function addStatusCommand(program: Command): void {
  program
    .command('status')
    .description(
      'without a run id, the runs (newest first); with one, its state, metrics history and evaluation points',
    )
    .argument('[run-id]', 'the run to show')
    .option('--state <state>', 'list only runs in this state (pending, growing, …, cancelled)')
    .option('--limit <n>', 'list at most this many runs', numberFlag, 50)
    .option('--json', 'print proto3 JSON (the Run, or {runs: [...]})', false)
    .option(
      '--coordinator <host:port>',
      'CoordinatorService address (else REST_COORDINATOR, else 127.0.0.1:50054)',
    )
    .action(
      async (
        runId: string | undefined,
        opts: { state?: string; limit: number; json: boolean; coordinator?: string },
      ) => {
        const client = coordinatorClient(opts.coordinator);
        try {
          if (runId !== undefined) {
            const { run } = await client.call('getRun', { runId });
            if (run === undefined) throw new Error('GetRun answered without a run');
            console.log(opts.json ? JSON.stringify(coordinator.Run.toJSON(run), null, 2) : formatRun(run));
            return;
          }
          const state =
            opts.state === undefined ? coordinator.RunState.RUN_STATE_UNSPECIFIED : parseState(opts.state);
          const limit = Math.max(1, Math.floor(opts.limit));
          const runs: coordinator.Run[] = [];
          let pageToken = '';
          do {
            const page = await client.call('listRuns', {
              state,
              pageSize: Math.min(limit - runs.length, 500),
              pageToken,
            });
            runs.push(...page.runs);
            pageToken = page.nextPageToken;
          } while (pageToken !== '' && runs.length < limit);
          console.log(
            opts.json
              ? JSON.stringify({ runs: runs.map((r) => coordinator.Run.toJSON(r)) }, null, 2)
              : formatRunList(runs),
          );
        } finally {
          client.close();
        }
      },
    );
}
