import type { MstingConfig } from '../config/schema.js';
import { MstingError } from '../errors.js';
import { registryImageName, type ServicePlan, type StackPlan } from '../stack/plan.js';

/**
 * `images push`: the STING-CE images of a profile, as this host has them (built from
 * `images.source_dir`, pulled, or named by `images.overrides`), tagged and pushed to a registry
 * under the names a host whose `images.registry` names it pulls: `<registry>/sting-ce-<service>:<version>`.
 * Stock images (PostgreSQL, Vault, Kratos…) are not STING-CE's to publish and are left out.
 */

export interface PushItem {
  /** The service (for a model service, the model's name: the key of images.overrides and images.digests). */
  service: string;
  /** The image on this host. */
  source: string;
  /** The name it gets in the registry. */
  target: string;
}

/** The images to push, in plan order; pure. `registry` is host[:port]/path, as images.registry takes it. */
export function planPush(config: MstingConfig, plan: Pick<StackPlan, 'services'>, registry: string): PushItem[] {
  const items: PushItem[] = [];
  const seen = new Set<string>();
  for (const s of plan.services) {
    const key = serviceKey(s);
    const target = registryImageName(registry, config.images.version, key, s.model !== null);
    if (target === undefined || seen.has(target)) continue;
    seen.add(target);
    items.push({ service: key, source: s.image, target });
  }
  return items;
}

/** The key images.overrides and images.digests use for a service (a model service: the model's name). */
export function serviceKey(service: Pick<ServicePlan, 'name' | 'model'>): string {
  return service.model ? service.model.name : service.name;
}

export interface PushAdapters {
  /** Whether the image is on this host (docker/engine.ts imagePresent). */
  imagePresent(reference: string): Promise<boolean>;
  /** Tag `source` as `target` and push it; returns the digest the registry stored (docker/registry.ts pushImage). */
  push(item: PushItem, onLine: (line: string) => void): Promise<{ digest: string | null }>;
}

export type PushState = 'pushing' | 'pushed';

export interface PushCallbacks {
  onImage(item: PushItem, state: PushState, digest?: string | null): void;
  onLine(line: string): void;
}

export interface PushedImage extends PushItem {
  digest: string | null;
}

/**
 * Push every image of the plan, one after the other (each push already sends its layers in
 * parallel). Refuses before pushing anything when one of them is not on this host.
 */
export async function executePush(items: readonly PushItem[], adapters: PushAdapters, callbacks: PushCallbacks, signal: AbortSignal): Promise<PushedImage[]> {
  const present = await Promise.all(items.map((i) => adapters.imagePresent(i.source)));
  const missing = items.filter((_, n) => !present[n]);
  if (missing.length > 0) {
    throw new MstingError('FAILURE', `${missing.length} of the profile's images ${missing.length === 1 ? 'is' : 'are'} not on this host, so nothing was pushed`, {
      details: missing.map((m) => `${m.service}: ${m.source}`),
      hint: 'build or pull them first (`msting install`, or `msting update` after a change to images.source_dir), or choose another profile with --profile',
    });
  }
  const pushed: PushedImage[] = [];
  for (const item of items) {
    signal.throwIfAborted();
    callbacks.onImage(item, 'pushing');
    const { digest } = await adapters.push(item, callbacks.onLine);
    callbacks.onImage(item, 'pushed', digest);
    pushed.push({ ...item, digest });
  }
  return pushed;
}
