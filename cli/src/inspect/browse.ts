/**
 * The interactive sample browser of `rest inspect` (stdout and stdin both terminals): one source at a
 * time, `n` / → / space for the next, `p` / ← for the previous, `q` / Esc / Ctrl-C to quit. Sources
 * are read from MongoDB as they are shown, so browsing a large run starts at once. Pages are printed
 * one under the other (no screen clearing), so the histograms above stay in the scrollback.
 */
import { emitKeypressEvents } from 'node:readline';
import type { Store } from '@rest/store';
import type { RunData } from '../report/run-data.js';
import { loadSourceView } from '../report/source-view.js';
import { formatSource } from './format.js';

/** One stop of the browser. */
export interface BrowseStop {
  readonly grow: number;
  readonly idx: number;
}

type Key = { readonly name?: string; readonly ctrl?: boolean };

/**
 * Browses `stops` in the terminal until the user quits.
 * @throws Error when stdin is not a terminal.
 */
export async function browse(store: Store, data: RunData, stops: readonly BrowseStop[]): Promise<void> {
  const input = process.stdin;
  if (!input.isTTY) throw new Error('the interactive browser needs a terminal on stdin');
  if (stops.length === 0) return;
  let at = 0;
  const show = async (): Promise<void> => {
    const stop = stops[at]!;
    const view = await loadSourceView(store, data, stop.grow, stop.idx);
    const steps = data.grows.find((g) => g.grow === stop.grow)?.improves.map((i) => i.improve) ?? [];
    console.log(`\n── source ${at + 1} of ${stops.length} ${'─'.repeat(40)}`);
    console.log(
      view === undefined ? `Grow ${stop.grow} · source #${stop.idx}: no samples` : formatSource(view, steps),
    );
    console.log('[n]ext  [p]revious  [q]uit');
  };
  emitKeypressEvents(input);
  input.setRawMode(true);
  input.resume();
  try {
    await show();
    await new Promise<void>((resolveDone, rejectDone) => {
      let busy = false;
      const onKey = (_text: string | undefined, key: Key | undefined): void => {
        const name = key?.name;
        if (name === 'q' || name === 'escape' || (key?.ctrl === true && name === 'c')) {
          input.off('keypress', onKey);
          resolveDone();
          return;
        }
        const step =
          name === 'n' || name === 'right' || name === 'space' || name === 'down'
            ? 1
            : name === 'p' || name === 'left' || name === 'up'
              ? -1
              : 0;
        if (step === 0 || busy) return;
        const next = Math.min(stops.length - 1, Math.max(0, at + step));
        if (next === at) return;
        at = next;
        busy = true;
        show().then(
          () => {
            busy = false;
          },
          (err: unknown) => {
            input.off('keypress', onKey);
            rejectDone(err instanceof Error ? err : new Error(String(err)));
          },
        );
      };
      input.on('keypress', onKey);
    });
  } finally {
    input.setRawMode(false);
    input.pause();
  }
}
