/**
 * Calibration files: the items a scorer's ZSCORE statistics are computed from at start-up. UTF-8
 * text, one item per line, tab-separated: `source<TAB>hypothesis[<TAB>reference]`. Blank lines are
 * skipped; tabs inside a text are not possible (there is no escaping, on purpose: keep it greppable).
 */
import { readFile } from 'node:fs/promises';
import type { ScoreItem } from './types.js';

/** A calibration file that cannot be read or has a malformed line. */
export class CalibrationFileError extends Error {
  override name = 'CalibrationFileError';
}

/**
 * Reads a calibration file's items.
 * @throws CalibrationFileError naming the file and line when it cannot be read, a line has fewer than
 *   2 or more than 3 fields or an empty source, or the file has fewer than 2 items
 */
export async function readCalibrationFile(path: string): Promise<ScoreItem[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new CalibrationFileError(`calibration file ${path}: cannot read it`, { cause });
  }
  const items: ScoreItem[] = [];
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const fields = line.split('\t');
    if (fields.length < 2 || fields.length > 3 || fields[0]!.trim() === '') {
      if (problems.length < 10)
        problems.push(`line ${i + 1}: expected source<TAB>hypothesis[<TAB>reference]`);
      return;
    }
    const reference = fields[2];
    items.push({
      source: fields[0]!,
      hypothesis: fields[1]!,
      reference: reference === undefined || reference.trim() === '' ? undefined : reference,
    });
  });
  if (problems.length > 0) throw new CalibrationFileError(`calibration file ${path}: ${problems.join('; ')}`);
  if (items.length < 2) {
    throw new CalibrationFileError(`calibration file ${path}: needs at least 2 items (got ${items.length})`);
  }
  return items;
}
