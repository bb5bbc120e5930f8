import { layersOf, stackGraph } from '../lifecycle/graph.js';
import type { StackPlan } from '../stack/plan.js';

/**
 * The update plan: which services change image or config, compared with what runs. Pure: the
 * rendered compose services (their config-hash label), the running containers (their label and
 * image id) and the image ids the references now point at, in; the plan out.
 */

export type ChangeReason = 'image' | 'config' | 'missing';

export interface RunningService {
  service: string;
  containerId: string;
  imageId: string;
  /** The `org.sting-ce.msting.config-hash` label the container was created with ('' when absent). */
  configHash: string;
  state: string;
}

export interface ServiceChange {
  service: string;
  reasons: ChangeReason[];
  image: string;
  /** Image id the container runs now (null when there is no container). */
  fromImageId: string | null;
  /** Image id the reference points at now (null when the image is not on this machine). */
  toImageId: string | null;
  fromConfigHash: string | null;
  toConfigHash: string;
}

export interface UpdatePlan {
  changes: ServiceChange[];
  unchanged: string[];
  /** Changed services in recreate order: each layer only after the one before is healthy. */
  layers: string[][];
}

export interface PlanUpdateInput {
  stack: Pick<StackPlan, 'services'>;
  /** Rendered config-hash label of each service. */
  configHashes: ReadonlyMap<string, string>;
  running: readonly RunningService[];
  /** Image id behind each service's image reference. */
  imageIds: ReadonlyMap<string, string | null>;
  /** Only these services (empty: all). */
  requested: readonly string[];
}

export function planUpdate(input: PlanUpdateInput): UpdatePlan {
  const running = new Map(input.running.map((r) => [r.service, r]));
  const wanted = new Set(input.requested.length > 0 ? input.requested : input.stack.services.map((s) => s.name));
  const changes: ServiceChange[] = [];
  const unchanged: string[] = [];
  for (const s of input.stack.services) {
    if (!wanted.has(s.name)) continue;
    const current = running.get(s.name);
    const toConfigHash = input.configHashes.get(s.name) ?? '';
    const toImageId = input.imageIds.get(s.name) ?? null;
    const reasons: ChangeReason[] = [];
    if (!current) reasons.push('missing');
    else {
      if (toImageId !== null && current.imageId !== toImageId) reasons.push('image');
      if (current.configHash !== toConfigHash) reasons.push('config');
    }
    if (reasons.length === 0) {
      unchanged.push(s.name);
      continue;
    }
    changes.push({
      service: s.name,
      reasons,
      image: s.image,
      fromImageId: current?.imageId ?? null,
      toImageId,
      fromConfigHash: current ? current.configHash || null : null,
      toConfigHash,
    });
  }
  const layers = layersOf(stackGraph(input.stack), changes.map((c) => c.service));
  return { changes, unchanged: unchanged.sort(), layers };
}
