/**
 * Communication model: alpha-beta collectives with nccl-tests' bus-bandwidth
 * definitions, made hierarchical (NVLink inside a node, the network across nodes).
 *
 * nccl-tests: algbw = S / t and busbw = algbw · F, so t = S · F / busbw, with
 * F = 2(n−1)/n for all-reduce, (n−1)/n for all-gather and reduce-scatter (S the full,
 * gathered size) and 1 for broadcast. busbw is what a link sustains, independent of n,
 * which is why the model is written in it.
 */

export type CollectiveOp = 'allreduce' | 'allgather' | 'reducescatter' | 'broadcast' | 'alltoall';

/** nccl-tests' bus-bandwidth factor F for `n` ranks. */
export function busbwFactor(op: CollectiveOp, n: number): number {
  if (n <= 1) return 0;
  switch (op) {
    case 'allreduce':
      return (2 * (n - 1)) / n;
    case 'allgather':
    case 'reducescatter':
    case 'alltoall':
      return (n - 1) / n;
    case 'broadcast':
      return 1;
  }
}

/** One level of the fabric: the bus bandwidth a collective reaches on it, and its step latency. */
export interface Link {
  /** Bus bandwidth per GPU, GB/s (1e9 bytes/s). */
  busbwGBps: number;
  /** Latency per algorithm step, microseconds. */
  latencyUs: number;
  /** Where these numbers came from. */
  source: 'measured' | 'catalog';
}

/** Algorithm steps a collective pays latency for: ring steps, or a tree's 2·log2(n) when fewer. */
export function latencySteps(op: CollectiveOp, n: number): number {
  if (n <= 1) return 0;
  const ring = op === 'allreduce' ? 2 * (n - 1) : n - 1;
  // All-to-all posts its n−1 sends and receives at once (NCCL's all-to-all is a grouped
  // ncclSend/ncclRecv: ncclGroupStart … ncclGroupEnd, NCCL docs "Point-to-point
  // communication"), so it pays one step of latency, not n−1 in sequence.
  if (op === 'alltoall') return 1;
  const tree = (op === 'allreduce' ? 2 : 1) * Math.ceil(Math.log2(n));
  return Math.min(ring, tree);
}

/** Time in seconds of a collective on `bytes` (S as nccl-tests counts it) among `n` ranks of one link. */
export function flatCollectiveTime(op: CollectiveOp, bytes: number, n: number, link: Link): number {
  if (n <= 1 || bytes <= 0) return 0;
  return latencySteps(op, n) * link.latencyUs * 1e-6 + (bytes * busbwFactor(op, n)) / (link.busbwGBps * 1e9);
}

/** Invert the model: the busbw nccl-tests would print for a measured time. */
export function busbwFromTime(op: CollectiveOp, bytes: number, n: number, seconds: number): number {
  return ((bytes / seconds) * busbwFactor(op, n)) / 1e9;
}

/** The two fabric levels of a cluster. */
export interface Fabric {
  gpusPerNode: number;
  intra: Link;
  inter: Link;
  /**
   * Links measured for one collective (all-gather, reduce-scatter, all-to-all cases of a
   * results file); they replace `intra`/`inter` for that collective only. For all-to-all,
   * `inter` is the per-rank busbw of a case spanning nodes, used as a flat link.
   */
  ops?: Partial<Record<CollectiveOp, { intra?: Link; inter?: Link }>>;
}

/** How a parallel group of `size` ranks, `stride` ranks apart, falls onto nodes. */
export interface Placement {
  /** Members of the group inside one node. */
  perNode: number;
  /** Nodes the group spans. */
  nodes: number;
}

/** Ranks are numbered node-major; a group's members are `stride` apart. */
export function placeGroup(size: number, stride: number, gpusPerNode: number): Placement {
  if (size <= 1) return { perNode: 1, nodes: 1 };
  const perNode = stride >= gpusPerNode ? 1 : Math.max(1, Math.min(size, Math.floor(gpusPerNode / stride)));
  return { perNode, nodes: Math.ceil(size / perNode) };
}

/**
 * A collective over a group placed hierarchically: inside the node on NVLink, across
 * nodes on the network, one NIC per GPU (rail-optimized), each GPU carrying 1/perNode
 * of the data across. All-reduce = reduce-scatter(intra) + all-reduce(inter, S/g) +
 * all-gather(intra); all-gather/reduce-scatter = their inter part on S/g plus intra on S.
 */
export function collectiveTime(op: CollectiveOp, bytes: number, size: number, stride: number, fabric: Fabric): number {
  if (size <= 1 || bytes <= 0) return 0;
  const { perNode: g, nodes: N } = placeGroup(size, stride, fabric.gpusPerNode);
  const intra = fabric.ops?.[op]?.intra ?? fabric.intra;
  const measuredInter = fabric.ops?.[op]?.inter;
  const inter = measuredInter ?? fabric.inter;
  if (N <= 1) return flatCollectiveTime(op, bytes, g, intra);
  if (g <= 1) return flatCollectiveTime(op, bytes, N, inter);
  switch (op) {
    case 'allreduce':
      return (
        flatCollectiveTime('reducescatter', bytes, g, intra) +
        flatCollectiveTime('allreduce', bytes / g, N, inter) +
        flatCollectiveTime('allgather', bytes, g, intra)
      );
    case 'allgather':
    case 'reducescatter':
      return flatCollectiveTime(op, bytes / g, N, inter) + flatCollectiveTime(op, bytes, g, intra);
    case 'broadcast':
      return flatCollectiveTime('broadcast', bytes, N, inter) + flatCollectiveTime('broadcast', bytes, g, intra);
    case 'alltoall': {
      // A measured all-to-all spanning nodes is the whole thing (per-rank busbw).
      if (measuredInter) return flatCollectiveTime('alltoall', bytes, size, measuredInter);
      // Each rank sends (g−1)/n of its buffer on NVLink and (n−g)/n through its own NIC, at
      // the same time: the slower of the two, plus n−1 steps of network latency.
      const n = size;
      const onNode = (bytes * (g - 1)) / n / (intra.busbwGBps * 1e9);
      const offNode = (bytes * (n - g)) / n / (inter.busbwGBps * 1e9);
      return latencySteps('alltoall', n) * inter.latencyUs * 1e-6 + Math.max(onNode, offNode);
    }
  }
}

/** Point-to-point send of `bytes` between ranks `stride` apart (pipeline stages). */
export function p2pTime(bytes: number, stride: number, fabric: Fabric): number {
  if (bytes <= 0) return 0;
  const link = stride >= fabric.gpusPerNode ? fabric.inter : fabric.intra;
  return link.latencyUs * 1e-6 + bytes / (link.busbwGBps * 1e9);
}

/** Per-GPU unidirectional NVLink bandwidth by generation, GB/s (NVIDIA NVLink pages). */
export const NVLINK_GBPS: Record<string, number> = { NVLink2: 150, NVLink3: 300, NVLink4: 450, NVLink5: 900 };

/**
 * MoE token dispatch (or combine) by a node-deduplicating dispatcher (DeepSeek's DeepEP,
 * NVIDIA's HybridEP, DeepSeek-V3's own kernels, report Sec. 3.2.2): a token crosses the
 * network once per distinct remote node holding one of its experts, then is forwarded on
 * NVLink to the experts' GPUs. `tokenBytes` is one rank's tokens (T/tp · h · bytes) and
 * `copies` the routed copies per token (topK·cf). On balanced routing a token hits
 * N·(1 − (1 − 1/N)^topK) of the N nodes the expert group spans, or `maxNodes` when the
 * router limits it to fewer (node-limited routing, DeepSeek-V3 Sec. 2.1.2: at most 4).
 * The network and NVLink parts run at once: the slower wins.
 */
export function dedupDispatchTime(tokenBytes: number, copies: number, topK: number, ep: number, stride: number, fabric: Fabric, maxNodes?: number): number {
  if (ep <= 1 || tokenBytes <= 0) return 0;
  const { perNode: g, nodes: N } = placeGroup(ep, stride, fabric.gpusPerNode);
  const onNode = (tokenBytes * copies * (g - 1)) / g / (fabric.intra.busbwGBps * 1e9);
  if (N <= 1) return fabric.intra.latencyUs * 1e-6 + onNode;
  const distinct = maxNodes !== undefined && maxNodes < N ? Math.min(maxNodes, topK) : N * (1 - (1 - 1 / N) ** topK);
  const remote = (distinct * (N - 1)) / N;
  const offNode = (tokenBytes * remote * (copies / topK)) / (fabric.inter.busbwGBps * 1e9);
  return fabric.inter.latencyUs * 1e-6 + Math.max(onNode, offNode);
}
