/**
 * The ModelPool's loader: finds a policy in the catalog, makes its bundle a local folder (downloading
 * registry bundles into the cache) and loads it. Failures become the statuses callers see: an
 * unknown policy is NOT_FOUND; a bundle that cannot be loaded is FAILED_PRECONDITION with a fixed
 * message (the bundle error, which names server paths, goes to the log).
 */
import type { ContinuousOptions, SessionOptions } from '@rest/runtime';
import { FailedPreconditionError, NotFoundError, ServiceError, type Logger } from '@rest/service-kit';
import { loadPolicy, onnxBytes, type LoadedPolicy } from './loaded-policy.js';
import type { PolicyLoader } from './model-pool.js';
import type { PolicyCatalog } from './policy-catalog.js';

/** A {@link PolicyLoader} over a catalog; see the module comment. */
export function catalogLoader(
  catalog: PolicyCatalog,
  sessionOptions: SessionOptions,
  logger: Logger,
  continuous?: ContinuousOptions,
): PolicyLoader {
  const folder = async (policyId: string): Promise<string> => {
    const record = await catalog.find(policyId);
    if (record === undefined) {
      throw new NotFoundError(`policy "${policyId}" not found; ListPolicies lists the policies`);
    }
    return catalog.folderOf(record);
  };
  const refuse = (policyId: string, error: unknown): never => {
    if (error instanceof ServiceError && !(error instanceof FailedPreconditionError)) throw error;
    logger.error('policy cannot be loaded', { policyId, err: error });
    throw new FailedPreconditionError(
      `policy "${policyId}" cannot be loaded: its bundle is broken or not a supported policy bundle (the server log has the details)`,
      { cause: error },
    );
  };
  return {
    async estimateBytes(policyId) {
      try {
        // An upper bound before the bundle is read: it may be ours (module comment of loaded-policy.ts).
        return await onnxBytes(await folder(policyId), continuous === undefined ? 1 : 2);
      } catch (error) {
        return refuse(policyId, error);
      }
    },
    async load(policyId: string, instance: number): Promise<LoadedPolicy> {
      try {
        return await loadPolicy(policyId, instance, await folder(policyId), sessionOptions, continuous);
      } catch (error) {
        return refuse(policyId, error);
      }
    },
  };
}
