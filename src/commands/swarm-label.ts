import type { Context } from '../context.js';
import { createSwarmEngine } from '../docker/swarm.js';
import { ExitCode } from '../errors.js';
import { GPU_NODE_LABEL } from '../render/swarm-stack.js';
import { findNode, gpuLabelChange } from '../swarm/nodes.js';
import { requireManager } from '../swarm/start.js';

export interface SwarmLabelOptions {
  node: string;
  /** true: --gpu (label it sting.gpu=true), false: --no-gpu (remove the label). */
  gpu: boolean;
}

/** `msting swarm label NODE --gpu | --no-gpu`: mark a node as the one the model services run on. */
export async function run(options: SwarmLabelOptions, ctx: Context): Promise<number> {
  const swarm = createSwarmEngine(ctx.env);
  await requireManager(swarm);
  const node = findNode(await swarm.listNodes(), options.node);
  const updated = await swarm.updateNodeLabels(node.id, gpuLabelChange(options.gpu));
  if (ctx.out.json) ctx.out.result({ node: updated.hostname, id: updated.id, labels: updated.labels });
  else ctx.out.print(options.gpu ? `${updated.hostname}: labelled ${GPU_NODE_LABEL}=true (model services run there)` : `${updated.hostname}: ${GPU_NODE_LABEL} label removed`);
  return ExitCode.ok;
}
