/**
 * TER's greedy block-shift search (Snover et al., 2006), reproducing sacrebleu's
 * `translation_edit_rate` (sacrebleu/metrics/lib_ter.py), which follows Tercom's heuristics: while
 * some shift lowers the edit distance, apply the best one and count one edit for it. Candidates are
 * hypothesis spans of 1..10 words equal to a reference span starting at most 50 positions away, such
 * that the hypothesis span has an error, the reference span has an error, and the span is not
 * already aligned to where it would go; each is tried before every reference word of the span (and
 * before the span's start), as aligned through the current edit trace. Ranking is by distance gain,
 * then longer span, then earlier start, then earlier target. After 1000 evaluated candidates in total
 * the search stops, and the shift found in that last round is not applied: sacrebleu's own limit.
 *
 * Words are integer ids: only equality matters.
 */
import { BeamEditDistance, EDIT_OP } from './ter-edit-distance.js';

const MAX_SHIFT_SIZE = 10;
const MAX_SHIFT_DIST = 50;
const MAX_SHIFT_CANDIDATES = 1000;

/**
 * `words` with the span [start, start + length) moved before position `target`, with Python's
 * slicing semantics in each of sacrebleu's three cases (indices clamp to the array).
 */
function performShift(words: Int32Array, start: number, length: number, target: number): Int32Array {
  const out = new Int32Array(words.length);
  const parts: [number, number][] =
    target < start
      ? [
          [0, target],
          [start, start + length],
          [target, start],
          [start + length, words.length],
        ]
      : target > start + length
        ? [
            [0, start],
            [start + length, target],
            [start, start + length],
            [target, words.length],
          ]
        : [
            [0, start],
            [start + length, length + target],
            [start, start + length],
            [length + target, words.length],
          ];
  let k = 0;
  for (const [a, b] of parts) {
    const piece = words.subarray(a, b);
    out.set(piece, k);
    k += piece.length;
  }
  return out;
}

interface ShiftResult {
  gain: number;
  words: Int32Array;
  checked: number;
}

function bestShift(
  wordsH: Int32Array,
  wordsR: Int32Array,
  ed: BeamEditDistance,
  checkedIn: number,
): ShiftResult {
  const nH = wordsH.length;
  const nR = wordsR.length;
  const preScore = ed.distance(wordsH);

  // Alignment from the flipped trace (reference rewritten into hypothesis): align[r] is the
  // hypothesis position aligned to reference word r; the error arrays are prefix sums.
  const align = new Int32Array(nR);
  const hypErr = new Int32Array(nH + 1);
  const refErr = new Int32Array(nR + 1);
  let ph = -1;
  let pr = -1;
  const trace = ed.trace;
  for (let t = 0; t < ed.traceLength; t++) {
    const op = trace[t]!;
    if (op === EDIT_OP.nop || op === EDIT_OP.sub) {
      const e = op === EDIT_OP.sub ? 1 : 0;
      ph++;
      pr++;
      align[pr] = ph;
      hypErr[ph + 1] = hypErr[ph]! + e;
      refErr[pr + 1] = refErr[pr]! + e;
    } else if (op === EDIT_OP.del) {
      ph++;
      hypErr[ph + 1] = hypErr[ph]! + 1;
    } else {
      pr++;
      align[pr] = ph;
      refErr[pr + 1] = refErr[pr]! + 1;
    }
  }

  let checked = checkedIn;
  let found = false;
  let bGain = 0;
  let bLen = 0;
  let bStart = 0;
  let bIdx = 0;
  let bWords = wordsH;
  search: for (let sh = 0; sh < nH; sh++) {
    for (let sr = 0; sr < nR; sr++) {
      if (Math.abs(sr - sh) > MAX_SHIFT_DIST) continue;
      let length = 0;
      while (wordsH[sh + length] === wordsR[sr + length] && length < MAX_SHIFT_SIZE) {
        length++;
        const a = align[sr]!;
        if (
          hypErr[sh + length]! - hypErr[sh]! !== 0 &&
          refErr[sr + length]! - refErr[sr]! !== 0 &&
          !(sh <= a && a < sh + length)
        ) {
          let prevIdx = -1;
          for (let offset = -1; offset < length; offset++) {
            const r = sr + offset;
            let idx: number;
            if (r === -1) idx = 0;
            else if (r >= 0 && r < nR) idx = align[r]! + 1;
            else break;
            if (idx === prevIdx) continue;
            prevIdx = idx;
            const shifted = performShift(wordsH, sh, length, idx);
            const gain = preScore - ed.distance(shifted);
            checked++;
            // Python compares (gain, length, -start, -target, words) tuples; equal first four
            // imply equal words, so the last element never decides.
            if (
              !found ||
              gain > bGain ||
              (gain === bGain &&
                (length > bLen || (length === bLen && (sh < bStart || (sh === bStart && idx < bIdx)))))
            ) {
              found = true;
              bGain = gain;
              bLen = length;
              bStart = sh;
              bIdx = idx;
              bWords = shifted;
            }
          }
          if (checked >= MAX_SHIFT_CANDIDATES) break search;
        }
        if (nH === sh + length || nR === sr + length) break;
      }
    }
  }
  return found ? { gain: bGain, words: bWords, checked } : { gain: 0, words: wordsH, checked };
}

/**
 * The number of TER edits (shifts plus edit distance after them) of a hypothesis against one
 * reference, both as word ids; an empty reference costs one edit per hypothesis word.
 */
export function terEdits(hyp: Int32Array, ref: Int32Array): number {
  if (ref.length === 0) return hyp.length;
  const ed = new BeamEditDistance(ref);
  let shifts = 0;
  let words = hyp;
  let checked = 0;
  for (;;) {
    const r = bestShift(words, ref, ed, checked);
    checked = r.checked;
    if (checked >= MAX_SHIFT_CANDIDATES || r.gain <= 0) break;
    shifts++;
    words = r.words;
  }
  return shifts + ed.distance(words);
}
