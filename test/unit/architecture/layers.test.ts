import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../../..');

/** The messages the project's own eslint config gives `code` as if it were the file at `path`. */
async function lint(path: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: root });
  const [result] = await eslint.lintText(code, { filePath: join(root, path) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-syntax').map((m) => m.message);
}

describe('which layer may import which (eslint)', () => {
  it('refuses a command importing another command, statically or lazily', async () => {
    expect(await lint('src/commands/restart.ts', "import { run } from './start.js';\nexport const x = run;\n")).toEqual([expect.stringMatching(/a command does not import another command/)]);
    expect(await lint('src/commands/restart.ts', "export const x = () => import('./start.js');\n")).toEqual([expect.stringMatching(/a command does not import another command/)]);
  });

  it('refuses domain code importing a command', async () => {
    expect(await lint('src/vault/rotation-deps.ts', "import { run } from '../commands/config-render.js';\nexport const x = run;\n")).toEqual([expect.stringMatching(/only src\/cli\.ts imports commands/)]);
    expect(await lint('src/update/workflow.ts', "export const x = () => import('../commands/update.js');\n")).toEqual([expect.stringMatching(/only src\/cli\.ts imports commands/)]);
  });

  it('lets commands use domain folders, and cli.ts load commands', async () => {
    expect(await lint('src/commands/restart.ts', "import { renderAndStart } from '../lifecycle/start-stack.js';\nexport const x = renderAndStart;\n")).toEqual([]);
    expect(await lint('src/cli.ts', "export const x = () => import('./commands/start.js');\n")).toEqual([]);
  });
});

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => join(e.parentPath, e.name));
}

describe('one way in to Docker', () => {
  it('only src/docker imports dockerode or runs the docker command through execa', async () => {
    const offenders: string[] = [];
    for (const file of await sourceFiles(join(root, 'src'))) {
      const path = relative(root, file).split('\\').join('/');
      if (path.startsWith('src/docker/')) continue;
      const text = await readFile(file, 'utf8');
      if (/from\s+['"]dockerode['"]|import\(\s*['"]dockerode['"]\s*\)/.test(text)) offenders.push(`${path}: imports dockerode`);
      if (/\bexeca(Sync)?\(\s*['"]docker['"]/.test(text)) offenders.push(`${path}: runs docker through execa`);
    }
    expect(offenders).toEqual([]);
  });
});
