import { checkBundleTarget, type BundleManifest, type BundleTarget } from './format.js';
import { loadBundle, type LoadBundleDeps, type LoadBundleResult } from './load.js';
import { invalidBundle, readBundleHeader, verifyBundle } from './read.js';

/**
 * A bundle as the image (and model) source of `install --bundle` and `update --bundle`: checked
 * before anything changes (its header against this msting and the profile, then every entry
 * against the manifest), loaded once when the images step asks for it.
 */
export interface BundleSource {
  file: string;
  manifest: BundleManifest;
  /** The bundle's config.yml (secrets removed). */
  config: string;
  /** Load the images and models (once; later calls return the first result). */
  load(): Promise<LoadBundleResult>;
}

export interface OpenBundleDeps {
  /** This msting's version. */
  version: string;
  signal: AbortSignal;
  /** Bytes read while every entry is checked. */
  onVerifyBytes?: (n: number) => void;
  /** The engine and models directory the load goes to, and its callbacks. */
  load: LoadBundleDeps;
}

/** `target` undefined: the caller checks the profile itself once it knows it (the version is checked here). */
export async function openBundleSource(file: string, target: BundleTarget | undefined, deps: OpenBundleDeps): Promise<BundleSource> {
  // The header first: a bundle for another version or profile is refused without reading gigabytes.
  const header = await readBundleHeader(file);
  checkBundleTarget(header, target ?? { version: deps.version, profile: header.profile }, file);
  const report = await verifyBundle(file, { signal: deps.signal, ...(deps.onVerifyBytes ? { onBytes: deps.onVerifyBytes } : {}) });
  if (!report.ok || !report.manifest) throw invalidBundle(file, report.problems);
  const manifest = report.manifest;
  let loaded: Promise<LoadBundleResult> | undefined;
  return {
    file,
    manifest,
    config: report.config ?? '',
    load: () => (loaded ??= loadBundle(file, manifest, deps.load)),
  };
}
