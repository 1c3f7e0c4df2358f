/** The statistic the regression gate judges a run by: its own module, without imports, so that the CLI checks `--statistic` without loading the gate. */

/**
 * What stands for a run's time of a case: its median sample, or its fastest (`min`). The
 * fastest sample is the estimator Chen & Revels recommend where the noise only ever adds
 * time ("Robust benchmarking in noisy environments", 2016; Julia's BenchmarkTools judges
 * on it). Back-to-back runs of one build on this project's 2-core VM (lavapipe, 320³ f32)
 * differed by 2–5% in their fastest samples and by 8% in their medians (docs/reports.md).
 * It cannot see a change that slows only some calls; the median can. Paired gate only: a
 * single HEAD run's fastest sample has no sampling distribution to test against stored
 * baselines.
 */
export type CompareStatistic = 'median' | 'min';

/** The statistics `--statistic` accepts. */
export const COMPARE_STATISTICS: readonly CompareStatistic[] = ['median', 'min'];
