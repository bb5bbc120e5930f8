import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseContract } from './contract-doc.js';
import { evaluateSource, formatSource } from './evaluate.js';
import { fixtureViews } from './fixtures/stack.js';
import { isSkippedFile, resolveStingTree, scannedFiles, scanReads } from './source-scan.js';

const checkout = fileURLToPath(new URL('fixtures/sting-ce', import.meta.url));
const tree = `${checkout}/STING`;

describe('the STING-CE source scan', () => {
  it('accepts a checkout (with STING/ inside) or the tree itself', () => {
    expect(resolveStingTree(checkout)).toBe(tree);
    expect(resolveStingTree(tree)).toBe(tree);
    expect(resolveStingTree(fileURLToPath(new URL('fixtures', import.meta.url)))).toBeUndefined();
  });

  it('skips tests and backups', () => {
    expect(['app/tests/test_x.py', 'app/test_x.py', 'app/x_test.py', 'src/a.test.js', 'app/x.backup.py', 'app/x_backup.py', 'app/Dockerfile.backup_20251102'].filter((f) => !isSkippedFile(f))).toEqual([]);
    expect(isSkippedFile('app/routes/testing_routes.py')).toBe(false);
  });

  it('scans only the files the image holds', () => {
    expect(scannedFiles(tree, ['app', 'conf', 'scripts'], ['conf', 'app'])).toEqual(['app/run.py', 'conf/loader.py']);
    expect(scannedFiles(tree, ['app', 'conf', 'scripts'])).toEqual(['app/run.py', 'conf/loader.py', 'scripts/tool.py']);
    expect([...scanReads(tree, ['app/run.py', 'conf/loader.py'])]).toEqual([
      ['DATABASE_URL', ['app/run.py:4']],
      ['HONEY_RESERVE_MASTER_KEY', ['app/run.py:5']],
      ['STING_SERVICE_API_KEY', ['app/run.py:6']],
      ['VAULT_TOKEN', ['conf/loader.py:3']],
    ]);
  });

  it('reports every read without a default that is neither rendered nor a not-rendered row', () => {
    const contract = parseContract(readFileSync(fileURLToPath(new URL('fixtures/contract.md', import.meta.url)), 'utf8'));
    const app = contract.sections.find((s) => s.service === 'app')!;
    const outcome = evaluateSource(app, fixtureViews(), tree);
    expect(outcome.image).toBe('app/Dockerfile.app');
    expect(formatSource('contract.md', outcome)).toEqual([
      'contract.md:9 ## app: STING_SERVICE_API_KEY is read without a default (app/run.py:6) but is not rendered for app; render it, or add a not-rendered row with the reason',
      'contract.md:9 ## app: VAULT_TOKEN is read without a default (conf/loader.py:3) but is not rendered for app; render it, or add a not-rendered row with the reason',
    ]);
  });

  it('names a Source folder the tree does not have', () => {
    const section = parseContract('## chatbot\n\nSource: `chatbot/`\n').sections[0]!;
    expect(formatSource('doc.md', evaluateSource(section, fixtureViews(), tree))).toEqual(['doc.md:1 ## chatbot: Source `chatbot` is not in the STING-CE tree']);
  });
});
