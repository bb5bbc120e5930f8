import type { LoadConfigOptions } from '../config/load.js';
import type { ConfigProblem } from '../config/problems.js';
import type { Context } from '../context.js';
import { ExitCode } from '../errors.js';
import { forcedChoiceRule } from '../hardware/config-rule.js';
import { probeHardware, type ProbeDeps } from '../hardware/probe.js';
import { recommend } from '../hardware/recommend.js';
import { formatHardwareText, hardwareJson } from '../hardware/report.js';
import { createSystemProbeDeps } from '../hardware/system-probe.js';

export type HardwareOptions = Record<string, never>;

/** Keys whose problems come from the hardware: shown in the report instead of stopping it. */
const HARDWARE_KEYS = new Set(['llm.device', 'llm.precision']);

/**
 * `msting hardware [--json]`: what the machine offers and what msting recommends. Reads only; it
 * writes nothing, so it runs before install, without Docker and without a config file. Exit 3 when
 * config.yml forces a device or precision this machine cannot honour.
 */
export async function run(_options: HardwareOptions, ctx: Context, deps: ProbeDeps = createSystemProbeDeps(ctx.env)): Promise<number> {
  const started = Date.now();
  const probing = probeHardware(deps);
  // The config modules load while the probes' programs run.
  const [{ checkConfig }, { configInvalidError, formatProblem }] = await Promise.all([import('../config/load.js'), import('../config/problems.js')]);
  const profile = await probing;
  ctx.out.debug(`hardware probed in ${Date.now() - started} ms`);

  const load: LoadConfigOptions = { configPath: ctx.configPath, configExplicit: ctx.configExplicit, env: ctx.env };
  const checked = await checkConfig({ ...load, extraRules: [forcedChoiceRule(profile)] });
  const hardwareErrors = checked.errors.filter((p) => HARDWARE_KEYS.has(p.path));
  if (checked.errors.length > hardwareErrors.length) throw configInvalidError(checked.path, checked.errors);
  // The forced-choice errors made the validator withhold the config; the rest of it is valid.
  const config = checked.config ?? (await checkConfig(load)).config;
  if (config === null) throw configInvalidError(checked.path, checked.errors);

  const hardwareWarnings = checked.warnings.filter((p) => HARDWARE_KEYS.has(p.path));
  for (const w of checked.warnings.filter((p) => !HARDWARE_KEYS.has(p.path))) ctx.out.warn(formatProblem(w, checked.path));

  const recommendation = recommend(profile, config);
  const configProblems: ConfigProblem[] = [...hardwareErrors, ...hardwareWarnings];
  const input = { profile, recommendation, config: { path: checked.path, exists: checked.exists }, configProblems };
  if (ctx.out.json) ctx.out.result(hardwareJson(input));
  else ctx.out.print(formatHardwareText(input, (tone, text) => ctx.out.paint(tone, text)).join('\n'));
  return hardwareErrors.length > 0 ? ExitCode.invalidConfig : ExitCode.ok;
}
