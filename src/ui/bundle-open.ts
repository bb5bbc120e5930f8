import { homedir } from 'node:os';
import { openBundleSource, type BundleSource } from '../bundle/source.js';
import type { Context } from '../context.js';
import { resolveEndpoint } from '../docker/endpoint.js';
import { createImageArchive } from '../docker/image-archive.js';
import { modelsDir } from '../layout.js';
import { MSTING_VERSION } from '../package-info.js';
import { ByteProgress } from './byte-progress.js';

/**
 * `install --bundle` and `update --bundle`: check the bundle against this msting and the profile,
 * and every entry, before anything changes, with a byte progress line; then its images and
 * models load through the engine and into the models folder (none with `skipModels`), each stage
 * reported beside the command's own lines.
 */
export async function openBundleWithProgress(file: string, profile: string, ctx: Context, skipModels = false): Promise<BundleSource> {
  const { out } = ctx;
  const progress = new ByteProgress(out, 'bundle');
  progress.stage(`checking every entry of ${file}`, { stage: 'bundle-verify', file });
  try {
    return await openBundleSource(file, { version: MSTING_VERSION, profile }, {
      version: MSTING_VERSION,
      signal: ctx.signal,
      onVerifyBytes: progress.add,
      load: {
        images: createImageArchive(resolveEndpoint(ctx.env), ctx.env),
        modelsDir: skipModels ? null : modelsDir(ctx.env, process.platform, homedir()),
        signal: ctx.signal,
        onStage: (stage, detail) => (out.json ? out.event({ event: 'bundle-load', stage, detail }) : out.info(`    loading ${detail} from the bundle`)),
      },
    });
  } finally {
    progress.done();
  }
}
