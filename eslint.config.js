import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const COMMAND_TO_COMMAND = 'a command does not import another command: move what both need into its domain folder (src/lifecycle, src/backup, ...) or src/ui';
const DOMAIN_TO_COMMAND = 'only src/cli.ts imports commands: call the domain workflow the command calls instead';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.cache/', 'schema/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', fetch: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Domain code never prints: output goes through src/ui.
      'no-console': 'error',
    },
  },
  // Dependencies point one way: cli.ts → commands → domain folders → adapters. A command calls
  // domain workflows, never another command; domain code never reaches back into a command.
  {
    files: ['src/commands/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['./*', '../commands/*'], message: COMMAND_TO_COMMAND }] }],
      'no-restricted-syntax': ['error', { selector: "ImportExpression[source.value=/^(\\.\\/|\\.\\.\\/commands\\/)/]", message: COMMAND_TO_COMMAND }],
    },
  },
  {
    files: ['src/**'],
    ignores: ['src/commands/**', 'src/cli.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/commands/*'], message: DOMAIN_TO_COMMAND }] }],
      'no-restricted-syntax': ['error', { selector: 'ImportExpression[source.value=/(^|\\/)commands\\//]', message: DOMAIN_TO_COMMAND }],
    },
  },
  { files: ['test/**', 'bench/**', 'scripts/**', 'bin/**'], rules: { 'no-console': 'off' } },
  { files: ['src/ui/**'], rules: { 'no-console': 'off' } },
);
