import type { Context } from '../context.js';
import { ExitCode } from '../errors.js';
import { checkConfig } from '../config/load.js';
import { configInvalidError, formatProblem, type ConfigProblem } from '../config/problems.js';

export type ConfigValidateOptions = Record<string, never>;

/** Under --json: the whole verdict, valid or not, as one document. */
export interface ConfigValidateJson {
  valid: boolean;
  path: string;
  exists: boolean;
  errors: ProblemJson[];
  warnings: ProblemJson[];
}

interface ProblemJson {
  path: string;
  line: number | null;
  column: number | null;
  message: string;
  hint: string | null;
  source: string;
}

function toJson(p: ConfigProblem): ProblemJson {
  return { path: p.path, line: p.line, column: p.column, message: p.message, hint: p.hint, source: p.source };
}

/** `msting config validate`: every problem at once, with line and column; exit 3 when invalid. */
export async function run(_options: ConfigValidateOptions, ctx: Context): Promise<number> {
  const checked = await checkConfig({ configPath: ctx.configPath, configExplicit: ctx.configExplicit, env: ctx.env });
  const valid = checked.errors.length === 0;
  if (ctx.out.json) {
    const doc: ConfigValidateJson = {
      valid,
      path: checked.path,
      exists: checked.exists,
      errors: checked.errors.map(toJson),
      warnings: checked.warnings.map(toJson),
    };
    ctx.out.result(doc);
    return valid ? ExitCode.ok : ExitCode.invalidConfig;
  }
  for (const warning of checked.warnings) ctx.out.warn(formatProblem(warning, checked.path));
  if (!valid) throw configInvalidError(checked.path, checked.errors);
  if (!checked.exists) {
    ctx.out.print(`valid: no file at ${checked.path}, so the defaults apply`);
    ctx.out.info('run `msting config init` to write a commented starter config');
  } else {
    const note = checked.warnings.length > 0 ? ` (${checked.warnings.length} warning${checked.warnings.length === 1 ? '' : 's'})` : '';
    ctx.out.print(`valid: ${checked.path}${note}`);
  }
  return ExitCode.ok;
}
