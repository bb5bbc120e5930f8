import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LLM_BASE_IMAGE, LLM_BASE_RECIPE, buildRecipe } from '../../../src/install/images.js';
import type { ModelPlan, ServiceGroup } from '../../../src/stack/plan.js';
import { checkRow, type CheckContext } from './check-rows.js';
import type { ContractRow, ContractSection, ParsedContract } from './contract-doc.js';
import { imageSources } from './image-files.js';
import type { RenderView } from './render-view.js';
import { scanReads, scannedFiles } from './source-scan.js';

/**
 * The contract page against rendered profiles (and, given a STING-CE tree, against the source):
 * every outcome carries what a reader needs to fix it: the row's line, the profile, what was found.
 */

export interface RowOutcome {
  row: ContractRow;
  /** Profiles the row was checked in. */
  checked: string[];
  /** `profile <name>: <what was found>`, profiles with the same finding named together. */
  failures: string[];
}

export interface SectionOutcome {
  section: ContractSection;
  /** Profiles that render the service. */
  profiles: string[];
  /** Problems of the section itself (unknown service, no rows, no Source line). */
  problems: string[];
  rows: RowOutcome[];
}

/** Every service some profile renders. */
export function knownServices(views: readonly RenderView[]): string[] {
  return [...new Set(views.flatMap((v) => Object.keys(v.services)))].sort();
}

export function evaluateSection(section: ContractSection, views: readonly RenderView[], ctx: CheckContext): SectionOutcome {
  const profiles = views.filter((v) => v.has(section.service));
  const problems: string[] = [];
  if (profiles.length === 0) {
    problems.push(`msting renders no service named ${section.service} in any profile (it renders: ${knownServices(views).join(', ')})`);
  }
  if (section.sources === undefined) problems.push('the Source line is not written: name the STING-CE folders in backticks, or "none (why)"');
  if (section.rows.length === 0) problems.push('the section has no rows: the contract of this service is not written');
  const rows = section.rows.map((row) => {
    // The same finding in several profiles is reported once, naming them all.
    const found = new Map<string, string[]>();
    const checked: string[] = [];
    const skipped: string[] = [];
    for (const view of profiles) {
      const result = checkRow(row, section.service, view, ctx);
      if (result.status === 'fail') found.set(result.found, [...(found.get(result.found) ?? []), view.profile]);
      if (result.status === 'skip') skipped.push(`profile ${view.profile}: ${result.why}`);
      else checked.push(view.profile);
    }
    const failures = [...found].map(([what, where]) => `${where.length > 1 ? 'profiles' : 'profile'} ${where.join(', ')}: ${what}`);
    if (profiles.length > 0 && checked.length === 0) failures.push(`no profile that renders ${section.service} could check this row (${skipped.join('; ')})`);
    return { row, checked, failures };
  });
  return { section, profiles: profiles.map((v) => v.profile), problems, rows };
}

export function evaluateContract(contract: ParsedContract, views: readonly RenderView[], ctx: CheckContext): SectionOutcome[] {
  return contract.sections.map((s) => evaluateSection(s, views, ctx));
}

/** A readable report of a section's failures, one line per problem, each with its page line. */
export function formatSection(doc: string, outcome: SectionOutcome): string[] {
  const lines = outcome.problems.map((p) => `${doc}:${outcome.section.line} ## ${outcome.section.service}: ${p}`);
  for (const r of outcome.rows) {
    for (const f of r.failures) lines.push(`${doc}:${r.row.line} ${r.row.kind} ${r.row.name} (${r.row.expectText}), ${f}`);
  }
  return lines;
}

export interface UncoveredRead {
  name: string;
  /** `file:line` of each read. */
  at: string[];
}

export interface SourceOutcome {
  section: ContractSection;
  /** Tree-relative files scanned. */
  files: string[];
  /** How the scanned files were chosen (the Dockerfile whose image holds them), for the report. */
  image: string;
  problems: string[];
  uncovered: UncoveredRead[];
}

/** The Dockerfile recipe msting builds a service with, when that Dockerfile is in the tree. */
function imageOf(tree: string, service: string, group: string): { sources?: string[]; image: string } {
  const recipe = buildRecipe({ name: service, group: group as ServiceGroup, model: group === 'model' ? ({ name: service } as ModelPlan) : null });
  if (!recipe) return { image: 'no image built from the tree: every file of the Source folders' };
  if (!existsSync(join(tree, recipe.dockerfile))) return { image: `${recipe.dockerfile} is not in the tree: every file of the Source folders` };
  return { sources: imageSources(tree, recipe, { [LLM_BASE_IMAGE]: LLM_BASE_RECIPE }), image: recipe.dockerfile };
}

function groupOf(views: readonly RenderView[], service: string): string {
  for (const view of views) {
    const labels = view.services[service]?.labels;
    if (labels && !Array.isArray(labels)) return labels['org.sting-ce.msting.group'] ?? '';
  }
  return '';
}

/**
 * Every variable the section's STING-CE code reads without a default must be in the service's
 * environment in every profile that renders it, or named by a `not-rendered` row.
 */
export function evaluateSource(section: ContractSection, views: readonly RenderView[], tree: string): SourceOutcome {
  const problems: string[] = [];
  const sources = Array.isArray(section.sources) ? section.sources : [];
  for (const s of sources) if (!existsSync(join(tree, s))) problems.push(`Source \`${s}\` is not in the STING-CE tree`);
  const { sources: inImage, image } = imageOf(tree, section.service, groupOf(views, section.service));
  const files = scannedFiles(tree, sources, inImage);
  const reads = scanReads(tree, files);
  const leftOut = new Set(section.rows.filter((r) => r.kind === 'not-rendered').map((r) => r.name));
  const profiles = views.filter((v) => v.has(section.service));
  const uncovered: UncoveredRead[] = [];
  for (const [name, at] of reads) {
    if (leftOut.has(name)) continue;
    const missingIn = profiles.filter((v) => !v.env(section.service).has(name)).map((v) => v.profile);
    if (profiles.length === 0 || missingIn.length > 0) uncovered.push({ name, at });
  }
  return { section, files, image, problems, uncovered };
}

export function formatSource(doc: string, outcome: SourceOutcome): string[] {
  const head = `${doc}:${outcome.section.line} ## ${outcome.section.service}`;
  return [
    ...outcome.problems.map((p) => `${head}: ${p}`),
    ...outcome.uncovered.map((u) => `${head}: ${u.name} is read without a default (${u.at.join(', ')}) but is not rendered for ${outcome.section.service}; render it, or add a not-rendered row with the reason`),
  ];
}
