import { access } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { StackPlan } from '../stack/plan.js';

/**
 * Files and directories the stack mounts that msting does not render: Vault tokens written by
 * `vault init`, TLS certificates, the models directory. Checked before anything is created, so
 * a missing one is one clear message instead of a half-created stack and Docker's error.
 */

export interface MissingFile {
  service: string;
  path: string;
  hint: string;
}

function hintFor(relative: string): string {
  if (relative.startsWith('secrets/vault-token')) return 'written by `msting vault init` (or `msting install`)';
  if (relative === 'certs' || relative.startsWith('certs/')) return 'created by `msting setup-ssl` (or `msting install`)';
  return 'create it, or render again with `msting config render`';
}

export async function findMissingFiles(plan: Pick<StackPlan, 'services'>, home: string, only?: ReadonlySet<string>): Promise<MissingFile[]> {
  const wanted = new Map<string, { service: string; relative: string }>();
  for (const s of plan.services) {
    if (only && !only.has(s.name)) continue;
    const sources = s.mounts.filter((m) => m.type === 'bind').map((m) => m.source);
    if (s.vaultTokenFile) sources.push(s.vaultTokenFile);
    for (const source of sources) {
      const path = isAbsolute(source) ? source : join(home, source);
      if (!wanted.has(path)) wanted.set(path, { service: s.name, relative: source });
    }
  }
  const missing: MissingFile[] = [];
  await Promise.all(
    [...wanted].map(async ([path, { service, relative }]) => {
      const present = await access(path).then(
        () => true,
        () => false,
      );
      if (!present) missing.push({ service, path, hint: hintFor(relative) });
    }),
  );
  return missing.sort((a, b) => a.path.localeCompare(b.path));
}
