/** Supplies a Hugging Face token from somewhere other than the environment (Vault). */
export type TokenProvider = () => Promise<string | undefined>;

export interface ResolvedToken {
  token: string | undefined;
  /** Where it came from, for messages (never the value). */
  source: string | undefined;
  /** Why the provider gave nothing, when it failed. */
  providerProblem: string | undefined;
}

/** HF_TOKEN (or the older HUGGING_FACE_HUB_TOKEN) from the environment. */
export function tokenFromEnv(env: NodeJS.ProcessEnv): ResolvedToken | undefined {
  for (const key of ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN'] as const) {
    const v = env[key]?.trim();
    if (v) return { token: v, source: key, providerProblem: undefined };
  }
  return undefined;
}

/** The environment's token wins; then the provider (Vault). A failing provider is reported, not thrown. */
export async function resolveToken(env: NodeJS.ProcessEnv, provider: TokenProvider | undefined): Promise<ResolvedToken> {
  const fromEnv = tokenFromEnv(env);
  if (fromEnv) return fromEnv;
  if (!provider) return { token: undefined, source: undefined, providerProblem: undefined };
  try {
    const v = (await provider())?.trim();
    return v ? { token: v, source: 'Vault (huggingface)', providerProblem: undefined } : { token: undefined, source: undefined, providerProblem: undefined };
  } catch (err) {
    return { token: undefined, source: undefined, providerProblem: err instanceof Error ? err.message : String(err) };
  }
}

export function isOffline(env: NodeJS.ProcessEnv): boolean {
  const v = (env.HF_HUB_OFFLINE ?? '').trim().toLowerCase();
  return v === '1' || v === 'true' || v === 'yes' || v === 'on';
}
