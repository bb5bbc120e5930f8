/** `vault-ref:PATH#KEY`: the value is read from Vault at render time. Kept apart from the schema so render paths need not load zod. */
export const VAULT_REF = /^vault-ref:([A-Za-z0-9_./-]+)#([A-Za-z0-9_.-]+)$/;
