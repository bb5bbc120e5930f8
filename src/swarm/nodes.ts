import type { MstingConfig } from '../config/schema.js';
import type { SwarmNode } from '../docker/swarm.js';
import { MstingError } from '../errors.js';
import { recommend } from '../hardware/recommend.js';
import type { GpuInfo, HardwareProfile, Recommendation } from '../hardware/types.js';
import { GPU_NODE_LABEL } from '../render/swarm-stack.js';

/**
 * `msting swarm nodes`: each node with its labels, resources, and what the hardware
 * recommendation says for it. The node msting runs on is probed (the same probe as `msting
 * hardware`); for the others the swarm knows only what their engines advertise (CPUs, memory,
 * generic resources such as NVIDIA-GPU), and the same recommendation function sizes the models
 * against that.
 */

export interface NodeRecommendation {
  device: Recommendation['device'];
  precision: Recommendation['precision'];
  /** Enabled models that fit this node. */
  models_fit: string[];
  /** Whether msting would label it for the model services. */
  gpu_label: boolean;
  /** probe: this node was probed; advertised: from what its engine advertises. */
  source: 'probe' | 'advertised';
  reasons: string[];
}

export interface NodeRow {
  id: string;
  hostname: string;
  role: string;
  availability: string;
  state: string;
  address: string;
  leader: boolean;
  labels: Record<string, string>;
  cpus: number;
  memory_bytes: number;
  gpus: { kind: string; value: number | string }[];
  recommends: NodeRecommendation;
}

/** What a remote node's engine advertises, as the hardware profile the recommendation reads. */
export function advertisedProfile(node: SwarmNode): HardwareProfile {
  const gpus: GpuInfo[] = [];
  for (const r of node.genericResources.filter((g) => /gpu/i.test(g.kind))) {
    const count = typeof r.value === 'number' ? r.value : 1;
    for (let i = 0; i < count; i++) {
      gpus.push({
        vendor: /amd|rocm/i.test(r.kind) ? 'amd' : 'nvidia',
        index: gpus.length,
        name: r.kind,
        uuid: typeof r.value === 'string' ? r.value : null,
        memoryTotalMiB: null,
        memoryFreeMiB: null,
        computeCapability: null,
        driverVersion: null,
        source: 'swarm',
      });
    }
  }
  const cores = Math.max(1, Math.round(node.nanoCpus / 1e9));
  return {
    os: { platform: 'linux', release: '', arch: '' },
    cpu: { model: 'unknown', cores, threads: cores, arch: '', flags: { avx2: false, avx512: false, avx512bf16: false, avx512vnni: false, amx: false } },
    memory: { totalBytes: node.memoryBytes, availableBytes: node.memoryBytes, cgroupLimitBytes: null },
    gpus,
    container: { dockerReachable: true, runtimes: [], nvidiaRuntime: gpus.some((g) => g.vendor === 'nvidia'), cdi: false, nvidiaHook: gpus.some((g) => g.vendor === 'nvidia'), amdDevices: gpus.some((g) => g.vendor === 'amd') },
    disks: { models: null, dockerRoot: null },
  };
}

export function nodeRow(node: SwarmNode, config: MstingConfig, profile: HardwareProfile, source: NodeRecommendation['source']): NodeRow {
  const rec = recommend(profile, config);
  const enabled = new Set(config.llm.models.filter((m) => m.enabled).map((m) => m.name));
  return {
    id: node.id,
    hostname: node.hostname,
    role: node.role,
    availability: node.availability,
    state: node.state,
    address: node.address,
    leader: node.leader,
    labels: node.labels,
    cpus: node.nanoCpus / 1e9,
    memory_bytes: node.memoryBytes,
    gpus: node.genericResources.filter((g) => /gpu/i.test(g.kind)),
    recommends: {
      device: rec.device,
      precision: rec.precision,
      models_fit: rec.models.filter((m) => m.fits && enabled.has(m.name)).map((m) => m.name),
      gpu_label: rec.device === 'cuda' || rec.device === 'rocm',
      source,
      reasons: rec.reasons,
    },
  };
}

/** The node an operator named: its id (or a unique prefix of it) or its hostname. */
export function findNode(nodes: readonly SwarmNode[], name: string): SwarmNode {
  const exact = nodes.filter((n) => n.id === name || n.hostname === name);
  const matches = exact.length > 0 ? exact : nodes.filter((n) => n.id.startsWith(name));
  if (matches.length === 1) return matches[0]!;
  throw new MstingError('USAGE', matches.length === 0 ? `no swarm node "${name}"` : `"${name}" names ${matches.length} nodes`, {
    hint: `name a node by hostname or id: ${nodes.map((n) => `${n.hostname} (${n.id.slice(0, 12)})`).join(', ')}`,
  });
}

/** The label change `swarm label NODE --gpu` (true) or `--no-gpu` (false) makes. */
export function gpuLabelChange(gpu: boolean): Record<string, string | null> {
  return { [GPU_NODE_LABEL]: gpu ? 'true' : null };
}
