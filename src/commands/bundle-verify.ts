import { resolve } from 'node:path';
import { verifyBundle } from '../bundle/read.js';
import { formatBytes } from '../bytes.js';
import type { Context } from '../context.js';
import { ExitCode } from '../errors.js';
import { ByteProgress } from '../ui/byte-progress.js';

export interface BundleVerifyOptions {
  file: string;
}

/** `msting bundle verify FILE`: re-hash every entry against the manifest. Exit 0 intact, 1 not. */
export async function run(options: BundleVerifyOptions, ctx: Context): Promise<number> {
  const { out } = ctx;
  const file = resolve(options.file);
  const progress = new ByteProgress(out, 'verify');
  progress.stage('reading the bundle', { stage: 'verify', file });
  let report;
  try {
    report = await verifyBundle(file, { signal: ctx.signal, onBytes: progress.add });
  } finally {
    progress.done();
  }
  const m = report.manifest;
  if (out.json) {
    out.event({
      event: 'result',
      file,
      ok: report.ok,
      problems: report.problems,
      files: report.files,
      bytes: report.bytes,
      profile: m?.profile ?? report.header?.profile ?? null,
      msting_version: m?.msting.version ?? report.header?.msting.version ?? null,
      created: m?.created ?? null,
      images: m?.images.map((i) => i.reference) ?? [],
      models: m?.models.map((x) => x.name) ?? [],
    });
  } else if (report.ok && m) {
    out.success(`${file} is intact: ${report.files} entries (${formatBytes(report.bytes)}), profile ${m.profile}, msting ${m.msting.version}, ${m.images.length} images, ${m.models.length} models, made ${m.created}`);
  } else {
    out.stderr.write(`${out.paint('red', 'error:')} ${file} failed verification\n`);
    for (const p of report.problems.slice(0, 50)) out.stderr.write(`  ${p}\n`);
    out.stderr.write(`${out.paint('cyan', 'hint:')} copy the bundle again from its source, or create it again with \`msting bundle create\`\n`);
  }
  return report.ok ? ExitCode.ok : ExitCode.failure;
}
