import type { ModelConfig } from '../config/schema.js';
import { createDispatcher } from './dispatcher.js';
import { DEFAULT_TUNING } from './tuning.js';
import { HubClient, endpointFromEnv } from './hub-client.js';
import { selectPaths } from './glob.js';
import { tokenFromEnv } from './token.js';
import { loadTrustStore } from './trust.js';

/**
 * The size a model would take, asked from the hub without downloading or recording anything
 * (for `models list` before the first download). Quick to give up: 5 s per request, no retries.
 */
export async function remoteModelSize(model: ModelConfig, env: NodeJS.ProcessEnv, signal: AbortSignal): Promise<{ size: number; commit: string }> {
  const trust = loadTrustStore(env);
  const dispatcher = createDispatcher(env, 5000, trust);
  const token = tokenFromEnv(env);
  try {
    const client = new HubClient({
      endpoint: endpointFromEnv(env),
      token: token?.token,
      tokenSource: token?.source,
      dispatcher,
      trust,
      signal,
      tuning: { ...DEFAULT_TUNING, retries: 0 },
    });
    const ref = { name: model.name, repo: model.repo, revision: model.revision };
    const commit = await client.resolveRevision(ref);
    const files = selectPaths(await client.listFiles(ref, commit), model.files, model.exclude);
    return { size: files.reduce((a, f) => a + f.size, 0), commit };
  } finally {
    await dispatcher.close().catch(() => undefined);
  }
}
