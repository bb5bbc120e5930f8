import type { Context } from '../context.js';
import { createSwarmEngine } from '../docker/swarm.js';
import { ExitCode } from '../errors.js';
import { loadValidatedConfig } from '../lifecycle/config-cache.js';
import { advertisedProfile, nodeRow } from '../swarm/nodes.js';
import { requireManager } from '../swarm/start.js';
import { printNodes } from '../ui/swarm-report.js';

/**
 * `msting swarm nodes`: the swarm's nodes with role, state, labels and resources, and what the
 * hardware recommendation says for each: this node probed as `msting hardware` does, the others
 * from what their engines advertise.
 */
export async function run(_options: Record<string, never>, ctx: Context): Promise<number> {
  const { config } = await loadValidatedConfig(ctx, undefined);
  const swarm = createSwarmEngine(ctx.env);
  await requireManager(swarm);
  const [info, nodes] = await Promise.all([swarm.info(), swarm.listNodes()]);
  const { machineProfile } = await import('../hardware/snapshot.js');
  const rows = [];
  for (const node of nodes) {
    const local = node.id === info.nodeId;
    rows.push(nodeRow(node, config, local ? await machineProfile(ctx.home, ctx.env) : advertisedProfile(node), local ? 'probe' : 'advertised'));
  }
  if (ctx.out.json) ctx.out.result({ nodes: rows });
  else printNodes(rows, ctx.out);
  return ExitCode.ok;
}
