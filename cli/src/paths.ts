/** Default locations the commands share. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `../shared/data/multi30k` beside the repository root (the data folder sits next to the project on
 * every machine), found from this file's location, else from the working directory.
 */
export function defaultDataDir(): string {
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const candidate = join(repoRoot, '..', 'shared', 'data', 'multi30k');
  return existsSync(candidate) ? candidate : resolve('..', 'shared', 'data', 'multi30k');
}
