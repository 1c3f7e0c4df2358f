/**
 * What selective recompute can run again, as Megatron-Core names them
 * (`TransformerConfig.recompute_modules`, `--recompute-modules`). Its own file, free of zod,
 * so the CLI can list them in `--help` without loading the schemas.
 */
export const RECOMPUTE_MODULES = ['core_attn', 'layernorm', 'mla_up_proj', 'mlp', 'moe', 'moe_act', 'shared_experts'] as const;
