import { parseReference } from '../docker/registry-errors.js';
import type { LocalImage } from '../docker/registry.js';
import type { StackPlan } from '../stack/plan.js';

/**
 * `images list`: what each service of a profile runs, and whether this host has it. Pure: the
 * plan and what the engine said about each reference in, rows out.
 */

export interface ImageRow {
  service: string;
  image: string;
  present: boolean;
  /** The local image id, null when absent. */
  id: string | null;
  /** The registry digest this host knows the image by (from a pull or a push), null when none. */
  digest: string | null;
  /** The digest config.yml pins (images.digests), null when none. */
  pinned: string | null;
}

export function imageRows(plan: Pick<StackPlan, 'services'>, local: ReadonlyMap<string, LocalImage | null>): ImageRow[] {
  return plan.services.map((s) => {
    const found = local.get(s.image) ?? null;
    const ref = parseReference(s.image);
    const own = found?.repoDigests.find((d) => d.startsWith(`${s.image.split('@')[0]!.replace(/:[^:/]+$/, '')}@`)) ?? found?.repoDigests[0];
    return {
      service: s.name,
      image: s.image,
      present: found !== null,
      id: found?.id ?? null,
      digest: own ? own.slice(own.indexOf('@') + 1) : null,
      pinned: ref.digest ?? null,
    };
  });
}
