import { configSchema, type ConfigInput, type MstingConfig } from '../../../src/config/schema.js';
import { cpuFallbackRecommendation, type Recommendation } from '../../../src/hardware/types.js';
import type { StingSchema } from '../../../src/render/postgres.js';
import { renderStack, type RenderedStack } from '../../../src/render/render-stack.js';
import { SECRET_SPECS, VAULT_CLIENT_SERVICES, mapSecretsProvider, serviceTokenSecretId, type SecretsProvider } from '../../../src/stack/secrets.js';

export function makeConfig(input: ConfigInput = {}): MstingConfig {
  return configSchema.parse(input);
}

/** Obviously fake, fixed secret values: `fake-<id>`, the services' own Vault tokens included. */
export const FAKE_SECRETS: SecretsProvider = mapSecretsProvider(
  Object.fromEntries([...SECRET_SPECS.map((s) => s.id), ...VAULT_CLIENT_SERVICES.map(serviceTokenSecretId)].map((id) => [id, `fake-${id.replaceAll('.', '-')}`])),
);

export function cpuRecommendation(config: MstingConfig): Recommendation {
  return cpuFallbackRecommendation(config.llm.models);
}

export function gpuRecommendation(config: MstingConfig): Recommendation {
  return {
    device: 'cuda',
    precision: 'bf16',
    gpuReservation: { driver: 'nvidia', deviceIds: ['GPU-00000000-1111-2222-3333-444444444444'] },
    models: config.llm.models.map((m) => ({
      name: m.name,
      fits: true,
      requiredBytes: 20 * 1024 ** 3,
      memoryLimit: '24g',
      quantization: 'none',
      reason: 'fits in 80 GiB of GPU memory at bf16',
    })),
    reasons: ['1 NVIDIA GPU reachable from containers'],
    advice: [],
  };
}

export function render(
  config: MstingConfig,
  profile: string,
  options: { recommendation?: Recommendation; secrets?: SecretsProvider; schema?: StingSchema | null } = {},
): RenderedStack {
  return renderStack({
    config,
    profile,
    recommendation: options.recommendation ?? cpuRecommendation(config),
    secrets: options.secrets ?? FAKE_SECRETS,
    modelsDir: '/opt/models',
    schema: options.schema ?? null,
  });
}

/** All files of a render as one text, for a file snapshot. */
export function snapshotText(stack: RenderedStack): string {
  return [...stack.files]
    .map(([path, file]) => `===== ${path} (mode ${file.mode.toString(8)}) =====\n${file.content}`)
    .join('\n');
}
