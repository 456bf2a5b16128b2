/**
 * `rest pretrain`: the command face of src/pretrain/run.ts — flags, a progress bar (loss, tokens/s,
 * validation BLEU, ETA against the time budget) and the closing summary.
 */
import { SingleBar, Presets } from 'cli-progress';
import { pretrain, type PretrainEvent, type PretrainOptions } from '../pretrain/run.js';

/** Runs pretraining with a progress bar on stderr (plain lines when stderr is not a terminal). */
export async function pretrainCommand(o: PretrainOptions): Promise<void> {
  const tty = process.stderr.isTTY;
  const bar = new SingleBar(
    {
      format:
        'pretrain |{bar}| {percentage}% {minutes}/{budget} min · step {step} · epoch {epoch} · loss {loss} · {tps} tok/s · BLEU {bleu} · ETA {eta_formatted}',
      hideCursor: true,
      etaBuffer: 50,
    },
    Presets.shades_classic,
  );
  let started = false;
  let lastBleu = '–';
  let lastPlain = 0;
  const onEvent = (e: PretrainEvent): void => {
    switch (e.kind) {
      case 'info':
        if (started && tty) bar.stop();
        console.error(`rest pretrain: ${e.message}`);
        if (started && tty) bar.start(o.maxMinutes * 60, 0);
        break;
      case 'step': {
        const payload = {
          minutes: e.minutes.toFixed(1),
          budget: e.budgetMinutes,
          step: e.step,
          epoch: e.epoch + 1,
          loss: e.loss.toFixed(3),
          tps: Math.round(e.tokensPerSecond),
          bleu: lastBleu,
        };
        if (tty) {
          if (!started) {
            bar.start(e.budgetMinutes * 60, 0, payload);
            started = true;
          }
          bar.update(Math.round(e.minutes * 60), payload);
        } else if (e.minutes - lastPlain >= 1 || e.step === 1) {
          lastPlain = e.minutes;
          console.error(
            `rest pretrain: ${payload.minutes}/${payload.budget} min step ${e.step} epoch ${payload.epoch} loss ${payload.loss} ${payload.tps} tok/s`,
          );
        }
        break;
      }
      case 'eval':
        lastBleu = e.bleu.toFixed(2);
        if (!tty)
          console.error(
            `rest pretrain: validation BLEU ${lastBleu} at step ${e.step} (epoch ${e.epoch}, ${e.minutes.toFixed(1)} min)${e.best ? ' — best so far, bundle saved' : ''}`,
          );
        break;
      case 'done':
        if (started && tty) bar.stop();
        console.log(
          `best validation BLEU ${e.bestBleu.toFixed(2)}; test BLEU ${e.testBleu.toFixed(2)} (beam ${o.testBeam}), ` +
            `${e.testBleuGreedy.toFixed(2)} (greedy) after ${e.minutes.toFixed(1)} min; bundle: ${e.out}`,
        );
        break;
    }
  };
  try {
    await pretrain(o, onEvent);
  } finally {
    if (started && tty) bar.stop();
  }
}
