/**
 * Builds the server's scorers from config: the four reference metrics (calibrated from
 * `referenceMetrics.calibrationFile` when one is set) and every learned model under `models.dirs` and
 * `models.root`, each through `loadRewardModel`.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { BatchInfo, Logger } from '@rest/service-kit';
import type { Config } from './config.js';
import { loadRewardModel } from './learned/learned-model.js';
import { MANIFEST_FILE } from './learned/manifest.js';
import { readCalibrationFile } from './scoring/calibration-file.js';
import { createMetricScorers } from './scoring/metric-scorers.js';
import { ScorerRegistry } from './scoring/registry.js';
import type { RewardScorer } from './scoring/types.js';

/** Options of {@link loadScorers}. */
export interface LoadScorersOptions {
  readonly logger: Logger;
  /** Called as each batch of a learned model starts. */
  readonly onBatch?: (model: string, info: BatchInfo) => void;
}

/** The model folders `models.dirs` names plus the subfolders of `models.root` holding a manifest. */
export async function modelDirs(models: Config['models']): Promise<string[]> {
  const dirs = [...models.dirs];
  if (models.root !== '') {
    const entries = await readdir(models.root, { withFileTypes: true });
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (!entry.isDirectory()) continue;
      const dir = join(models.root, entry.name);
      if (
        await stat(join(dir, MANIFEST_FILE)).then(
          (s) => s.isFile(),
          () => false,
        )
      )
        dirs.push(dir);
    }
  }
  return dirs;
}

/**
 * Loads every scorer; on any failure, the models already loaded are closed before it rethrows.
 * @throws RewardModelError, CalibrationFileError, DuplicateScorerError, or the file system's error
 *   for an unreadable `models.root`
 */
export async function loadScorers(config: Config, options: LoadScorersOptions): Promise<ScorerRegistry> {
  const logger = options.logger.child({ component: 'scorers' });
  const scorers: RewardScorer[] = [];
  try {
    const file = config.referenceMetrics.calibrationFile;
    scorers.push(
      ...(await createMetricScorers(
        file === '' ? undefined : { items: await readCalibrationFile(file), origin: `file ${file}` },
      )),
    );
    for (const dir of await modelDirs(config.models)) {
      scorers.push(
        await loadRewardModel(dir, {
          session: config.runtime,
          batching: config.batching,
          logger,
          ...(options.onBatch === undefined ? {} : { onBatch: options.onBatch }),
        }),
      );
    }
    return new ScorerRegistry(scorers);
  } catch (error) {
    await Promise.all(scorers.map((s) => s.close()));
    throw error;
  }
}
