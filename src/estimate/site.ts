/**
 * Site sizing: how many GPUs a power budget feeds, and what they deliver.
 *
 *   all-in W per GPU = GPU board W + node overhead W / GPUs per node + infrastructure W per GPU
 *   facility W per GPU = all-in × PUE
 *   GPUs = floor(budget / facility W per GPU), rounded down to whole nodes
 */
export interface SitePower {
  gpuWatts: number;
  nodeOverheadWatts: number;
  perGpuInfraWatts: number;
  pue: number;
  gpusPerNode: number;
  gpusPerRack: number;
  /** The scale-out network's own power per GPU (switch ports and optics); 0 when folded into perGpuInfraWatts. */
  networkWattsPerGpu?: number;
}

/**
 * Network power per GPU of a non-blocking fat tree with `tiers` switch levels: each GPU
 * accounts for 2·tiers − 1 switch ports (one at the leaf, two at every level above but the
 * top, one at the top) and `tiers` links of two transceivers each.
 */
export function networkWattsPerGpu(n: { tiers: number; switchWattsPerPort: number; transceiverWatts: number }): number {
  return (2 * n.tiers - 1) * n.switchWattsPerPort + 2 * n.tiers * n.transceiverWatts;
}

export interface SiteSizing {
  budgetWatts: number;
  allInWattsPerGpu: number;
  /** Of which the scale-out network. */
  networkWattsPerGpu: number;
  pue: number;
  facilityWattsPerGpu: number;
  gpus: number;
  nodes: number;
  racks: number;
  /** IT load (without PUE) and facility load, MW. */
  itMW: number;
  facilityMW: number;
  /** Dense 16-bit peak of all GPUs, EFLOP/s. */
  peakEflops: number;
}

/** Sizes a site for a power budget (watts). */
export function sizeSite(budgetWatts: number, p: SitePower, peak16Tflops: number): SiteSizing {
  const allIn = p.gpuWatts + p.nodeOverheadWatts / p.gpusPerNode + p.perGpuInfraWatts + (p.networkWattsPerGpu ?? 0);
  const facility = allIn * p.pue;
  const nodes = Math.floor(budgetWatts / facility / p.gpusPerNode);
  const gpus = nodes * p.gpusPerNode;
  return {
    budgetWatts,
    allInWattsPerGpu: allIn,
    networkWattsPerGpu: p.networkWattsPerGpu ?? 0,
    pue: p.pue,
    facilityWattsPerGpu: facility,
    gpus,
    nodes,
    racks: Math.ceil(gpus / p.gpusPerRack),
    itMW: (gpus * allIn) / 1e6,
    facilityMW: (gpus * facility) / 1e6,
    peakEflops: (gpus * peak16Tflops) / 1e6,
  };
}

/** Time, energy and cost to do `flops` of training at `tflopsPerGpu` sustained on `gpus` GPUs. */
export function timeToTrain(flops: number, gpus: number, tflopsPerGpu: number, facilityWattsPerGpu: number, pricePerGpuHour?: number): {
  seconds: number;
  days: number;
  gpuHours: number;
  energyMWh: number;
  costUSD: number | null;
} {
  const seconds = flops / (gpus * tflopsPerGpu * 1e12);
  const gpuHours = (gpus * seconds) / 3600;
  return {
    seconds,
    days: seconds / 86400,
    gpuHours,
    energyMWh: (gpuHours * facilityWattsPerGpu) / 1e6,
    costUSD: pricePerGpuHour === undefined ? null : gpuHours * pricePerGpuHour,
  };
}

/** Parses a power figure: a number of watts, or "4.5GW", "300 MW", "20kW". */
export function parsePower(text: string): number | undefined {
  const m = /^\s*([0-9]*\.?[0-9]+(?:e[+-]?\d+)?)\s*(w|kw|mw|gw)?\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = (m[2] ?? 'w').toLowerCase();
  const mult = unit === 'gw' ? 1e9 : unit === 'mw' ? 1e6 : unit === 'kw' ? 1e3 : 1;
  return Number(m[1]) * mult;
}

/** Parses a count with an optional SI suffix: "1e12", "15T", "2.5B", "300G". */
export function parseCount(text: string): number | undefined {
  const m = /^\s*([0-9]*\.?[0-9]+(?:e[+-]?\d+)?)\s*([kmgbtp])?\s*$/i.exec(text);
  if (!m) return undefined;
  const mult: Record<string, number> = { k: 1e3, m: 1e6, g: 1e9, b: 1e9, t: 1e12, p: 1e15 };
  return Number(m[1]) * (m[2] ? mult[m[2].toLowerCase()]! : 1);
}
