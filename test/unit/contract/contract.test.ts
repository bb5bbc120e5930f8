import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseContract } from './contract-doc.js';
import { evaluateSection, evaluateSource, formatSection, formatSource, knownServices } from './evaluate.js';
import { renderContext, renderProfiles } from './render-profiles.js';
import { resolveStingTree } from './source-scan.js';

/**
 * docs/sting-ce.md is the written contract between msting's render and the real STING-CE
 * services. Every row is checked against every profile that renders its service; with
 * STING_CE_SRC naming a STING-CE tree, the tree's code is read too, so a variable the code needs
 * cannot go unrendered without a row that says why.
 */

const DOC = 'docs/sting-ce.md';
const markdown = readFileSync(fileURLToPath(new URL(`../../../${DOC}`, import.meta.url)), 'utf8');
const contract = parseContract(markdown);
const views = renderProfiles();
const ctx = renderContext(views);

describe(`${DOC}: the STING-CE contract against the render of every profile`, () => {
  it('parses: known kinds, well-formed rows, one section per service', () => {
    expect(contract.problems.map((p) => `${DOC}:${p.line} ${p.message}`)).toEqual([]);
  });

  it('has a section for every service msting renders', () => {
    const written = new Set(contract.sections.map((s) => s.service));
    expect(knownServices(views).filter((s) => !written.has(s)).map((s) => `${DOC}: no section ## ${s}`)).toEqual([]);
  });

  for (const section of contract.sections) {
    it(`## ${section.service} (line ${section.line}): every row holds in every profile that renders it`, () => {
      expect(formatSection(DOC, evaluateSection(section, views, ctx))).toEqual([]);
    });
  }
});

const srcEnv = process.env.STING_CE_SRC?.trim();
const tree = srcEnv ? resolveStingTree(srcEnv) : undefined;

if (srcEnv) {
  describe(`${DOC} against the real STING-CE source in STING_CE_SRC`, () => {
    it('STING_CE_SRC names a STING-CE tree', () => {
      expect(tree, `STING_CE_SRC=${srcEnv} holds neither STING/VERSION nor VERSION`).toBeDefined();
    });

    for (const section of contract.sections.filter((s) => Array.isArray(s.sources))) {
      it(`## ${section.service}: every variable its code reads without a default is rendered or listed as not-rendered`, () => {
        if (!tree) return;
        expect(formatSource(DOC, evaluateSource(section, views, tree))).toEqual([]);
      });
    }
  });
} else {
  describe(`${DOC} against the real STING-CE source`, () => {
    it.skip('set STING_CE_SRC to a STING-CE tree to check against the real source', () => {});
  });
}
