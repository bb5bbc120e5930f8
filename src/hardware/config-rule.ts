import type { RuleProblem } from '../config/problems.js';
import type { ConfigRule } from '../config/rules.js';
import { checkForcedChoices } from './forced-choices.js';
import type { HardwareProfile } from './types.js';

/**
 * The forced-choice checks as a config rule, so `loadConfig({extraRules: [forcedChoiceRule(profile)]})`
 * reports them with the line and column of llm.device / llm.precision, and exit 3 like any other
 * config problem.
 */
export function forcedChoiceRule(profile: HardwareProfile): ConfigRule {
  return (config): RuleProblem[] =>
    checkForcedChoices(profile, config).map((p) => ({
      severity: p.severity,
      path: p.path.split('.'),
      message: p.message,
      hint: p.hint,
      at: 'value' as const,
    }));
}
