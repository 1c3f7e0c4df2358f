/**
 * The link rates ceilings are computed from, one direction, GB/s = 1e9 bytes/s. Sources are
 * in docs/cuda.md ("Link ceilings"); every figure is the raw signalling rate after line
 * encoding, before protocol overhead (TLP headers, NVLink packet headers, TCP/IP), so no
 * real transfer reaches 100%.
 */

/**
 * PCIe bytes per second per lane, one direction, by generation: transfer rate × encoding
 * (8b/10b for gen 1–2, 128b/130b for gen 3–5, 242B/256B FLIT for gen 6–7) / 8 bits.
 */
export const PCIE_GBPS_PER_LANE: Readonly<Record<number, number>> = {
  1: 2.5 * (8 / 10) / 8,      // 0.25
  2: 5 * (8 / 10) / 8,        // 0.5
  3: 8 * (128 / 130) / 8,     // 0.985
  4: 16 * (128 / 130) / 8,    // 1.969
  5: 32 * (128 / 130) / 8,    // 3.938
  6: 64 * (242 / 256) / 8,    // 7.563
  7: 128 * (242 / 256) / 8,   // 15.125
};

/** PCIe transfer rates (GT/s, as sysfs `max_link_speed` spells them) by generation. */
export const PCIE_GTS: Readonly<Record<number, number>> = { 1: 2.5, 2: 5, 3: 8, 4: 16, 5: 32, 6: 64, 7: 128 };

/** The generation of a sysfs link speed ("16.0 GT/s PCIe", "8 GT/s"), or undefined. */
export function pcieGenOfSpeed(speed: string | undefined): number | undefined {
  const m = /([\d.]+)\s*GT\/s/.exec(speed ?? '');
  if (!m) return undefined;
  const gts = Number(m[1]);
  const hit = Object.entries(PCIE_GTS).find(([, v]) => Math.abs(v - gts) < 0.01);
  return hit ? Number(hit[0]) : undefined;
}

/** One direction of a PCIe link, GB/s: per-lane rate of `gen` × `width`; undefined when either is unknown. */
export function pcieGBps(gen: number | undefined, width: number | undefined): number | undefined {
  if (gen === undefined || width === undefined || width <= 0) return undefined;
  const lane = PCIE_GBPS_PER_LANE[gen];
  return lane === undefined ? undefined : lane * width;
}

/**
 * NVLink generation of nvmlDeviceGetNvLinkVersion's value: nvml.h's nvmlNvlinkVersion_t
 * (1 = 1.0, 2 = 2.0, 3 = 2.2, 4 = 3.0, 5 = 3.1, 6 = 4.0, 7 = 5.0). 8 (6.0) and anything newer
 * is recorded but has no rate here yet.
 */
export const NVLINK_GENERATION_OF_NVML: Readonly<Record<number, number>> = { 1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 6: 4, 7: 5 };

/**
 * One NVLink's rate, one direction, GB/s, by generation: the datasheets' per-GPU
 * bidirectional NVLink bandwidth / links / 2 (P100 160 GB/s over 4 links, V100 300 over 6,
 * A100 600 over 12, H100 900 over 18, B200 1800 over 18).
 */
export const NVLINK_GBPS_PER_LINK: Readonly<Record<number, number>> = { 1: 20, 2: 25, 3: 25, 4: 25, 5: 50 };

/** Bytes per second of a NIC speed in Mb/s (sysfs `speed`), one direction, GB/s. */
export function nicGBps(speedMbps: number | null | undefined): number | undefined {
  return speedMbps && speedMbps > 0 ? speedMbps / 8000 : undefined;
}

/** Gb/s of an InfiniBand sysfs rate ("400 Gb/sec (4X NDR)"). */
export function ibRateGbps(rate: string | undefined): number | undefined {
  const m = /([\d.]+)\s*Gb\/sec/.exec(rate ?? '');
  return m ? Number(m[1]) : undefined;
}
