import { describe, expect, it } from 'vitest';
import { matchesGlob, selectPaths } from '../../../src/models/glob.js';

const files = ['config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'original/consolidated.00.pth', 'original/params.json', 'gguf/model-Q4_K_M.gguf', 'gguf/model-Q8_0.gguf', 'tokenizer.json'].map((path) => ({ path }));
const pick = (include: string[], exclude: string[] = []): string[] => selectPaths(files, include, exclude).map((f) => f.path);

describe('include and exclude patterns', () => {
  it('selects everything without patterns', () => {
    expect(pick([])).toHaveLength(files.length);
  });
  it('excludes a directory with **', () => {
    expect(pick([], ['original/**'])).not.toContain('original/params.json');
    expect(pick([], ['original/**'])).toContain('config.json');
  });
  it('matches a bare file pattern at any depth, as huggingface_hub does', () => {
    expect(pick(['*.json'])).toEqual(['config.json', 'original/params.json', 'tokenizer.json']);
  });
  it('keeps * inside one segment when the pattern has a slash', () => {
    expect(matchesGlob('gguf/model-Q4_K_M.gguf', 'gguf/*Q4_K_M*')).toBe(true);
    expect(matchesGlob('gguf/sub/model-Q4_K_M.gguf', 'gguf/*Q4_K_M*')).toBe(false);
    expect(matchesGlob('gguf/sub/model-Q4_K_M.gguf', 'gguf/**/*Q4_K_M*')).toBe(true);
  });
  it('supports alternatives and character classes', () => {
    expect(pick(['*.{safetensors,json}'], ['original/**'])).toEqual(['config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'tokenizer.json']);
    expect(pick(['model-0000[1]-*'])).toEqual(['model-00001-of-00002.safetensors']);
  });
  it('treats regex characters in names literally', () => {
    expect(matchesGlob('a+b.json', 'a+b.json')).toBe(true);
    expect(matchesGlob('aab.json', 'a+b.json')).toBe(false);
  });
});
