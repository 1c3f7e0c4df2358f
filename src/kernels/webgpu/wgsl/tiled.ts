/**
 * The tiled WGSL GEMM: C[b] = A[b] · B[b], row-major, A m×k, B k×n.
 *
 * Each workgroup computes a BM×BN tile of C (BM = wgY·tm, BN = wgX·tn), staging BM×BK of
 * A (transposed) and BK×BN of B in workgroup memory per step of k. Each invocation keeps
 * a tm×tn block of C in registers. The generator unrolls the register block into named
 * variables: WGSL has no unroll pragma, and arrays indexed in loops tend to end up in
 * memory on compilers (lavapipe's LLVM included) rather than in registers.
 *
 * Global loads are vec4 when k and n are multiples of four (`vec4: true`), scalar with
 * bounds checks otherwise, so every shape is handled by the same tiling. Arithmetic is
 * f32 for both storage types: f16 inputs are accumulated in f32, as cuBLAS does by
 * default for half GEMMs, and rounded to f16 once on store.
 */

/** Tile shape of the tiled kernel, the autotuner's search space. */
export interface TileConfig {
  /** Invocations per workgroup along n. */
  wgX: number;
  /** Invocations per workgroup along m. */
  wgY: number;
  /** Rows of C per invocation. */
  tm: number;
  /** Columns of C per invocation; a multiple of 4 (one vec4 per 4 columns). */
  tn: number;
  /** Depth of the k step staged in workgroup memory; a multiple of 4. */
  bk: number;
}

/** Storage element types the WGSL kernels are generated for. */
export type WgslDtype = 'f32' | 'f16';

/** Rows/columns of C one workgroup covers. */
export function tileExtent(c: TileConfig): { bm: number; bn: number } {
  return { bm: c.wgY * c.tm, bn: c.wgX * c.tn };
}

/** Bytes of workgroup memory the config stages (f32 tiles). */
export function workgroupBytes(c: TileConfig): number {
  const { bm, bn } = tileExtent(c);
  return 4 * c.bk * (bm + bn);
}

/** Short stable name, used in results and the autotune cache. */
export function tileName(c: TileConfig): string {
  return `wg${c.wgX}x${c.wgY}-t${c.tm}x${c.tn}-k${c.bk}`;
}

/** Throws when a config cannot be generated or would exceed the device's limits. */
export function validateTile(c: TileConfig, limits?: Pick<GPUSupportedLimits, 'maxComputeInvocationsPerWorkgroup' | 'maxComputeWorkgroupStorageSize'>): void {
  if (c.tn % 4 !== 0) throw new Error(`tile ${tileName(c)}: tn must be a multiple of 4`);
  if (c.bk % 4 !== 0) throw new Error(`tile ${tileName(c)}: bk must be a multiple of 4`);
  if (limits) {
    if (c.wgX * c.wgY > limits.maxComputeInvocationsPerWorkgroup)
      throw new Error(`tile ${tileName(c)}: ${c.wgX * c.wgY} invocations exceed the device's ${limits.maxComputeInvocationsPerWorkgroup}`);
    if (workgroupBytes(c) > limits.maxComputeWorkgroupStorageSize)
      throw new Error(`tile ${tileName(c)}: ${workgroupBytes(c)} B of workgroup memory exceed the device's ${limits.maxComputeWorkgroupStorageSize}`);
  }
}

/** WGSL preamble shared by the kernels: storage type and the dims uniform. */
export function preamble(dtype: WgslDtype): string {
  return `${dtype === 'f16' ? 'enable f16;\n' : ''}alias T = ${dtype};
struct Dims { M: u32, N: u32, K: u32, batch: u32 }
@group(0) @binding(3) var<uniform> dims: Dims;
`;
}

/**
 * Generates the tiled kernel's WGSL.
 * @param vec4 load and store through vec4 (requires k % 4 == 0 and n % 4 == 0)
 */
export function tiledMatmulWgsl(c: TileConfig, dtype: WgslDtype, vec4: boolean): string {
  validateTile(c);
  const { bm, bn } = tileExtent(c);
  const nt = c.wgX * c.wgY;
  const tnv = c.tn / 4;
  const L: string[] = [];
  L.push(preamble(dtype));
  const el = vec4 ? 'vec4<T>' : 'T';
  L.push(`@group(0) @binding(0) var<storage, read> A: array<${el}>;`);
  L.push(`@group(0) @binding(1) var<storage, read> B: array<${el}>;`);
  L.push(`@group(0) @binding(2) var<storage, read_write> C: array<${el}>;`);
  L.push(`const BM = ${bm}u; const BN = ${bn}u; const BK = ${c.bk}u; const NT = ${nt}u;`);
  // A is staged transposed (k-major) so each invocation's tm values of one k are adjacent.
  L.push(`var<workgroup> As: array<array<f32, ${bm}>, ${c.bk}>;`);
  L.push(`var<workgroup> Bs: array<array<vec4<f32>, ${bn / 4}>, ${c.bk}>;`);
  L.push(`@compute @workgroup_size(${c.wgX}, ${c.wgY}, 1)`);
  L.push(`fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {`);
  L.push(`  let M = dims.M; let N = dims.N; let K = dims.K;`);
  L.push(`  let aOff = wid.z * M * K; let bOff = wid.z * K * N; let cOff = wid.z * M * N;`);
  L.push(`  let tileRow = wid.y * BM; let tileCol = wid.x * BN;`);
  L.push(`  let row0 = lid.y * ${c.tm}u; let colv0 = lid.x * ${tnv}u;`);
  for (let i = 0; i < c.tm; i++) for (let j = 0; j < tnv; j++) L.push(`  var acc${i}_${j} = vec4<f32>(0.0);`);
  L.push(`  for (var t = 0u; t < K; t = t + BK) {`);
  if (vec4) {
    L.push(`    for (var i = li; i < BM * BK / 4u; i = i + NT) {`);
    L.push(`      let r = i / (BK / 4u); let kq = i % (BK / 4u);`);
    L.push(`      let gr = tileRow + r; let gk = t + kq * 4u;`);
    L.push(`      var v = vec4<f32>(0.0);`);
    L.push(`      if (gr < M && gk < K) { v = vec4<f32>(A[(aOff + gr * K + gk) / 4u]); }`);
    L.push(`      As[kq * 4u][r] = v.x; As[kq * 4u + 1u][r] = v.y; As[kq * 4u + 2u][r] = v.z; As[kq * 4u + 3u][r] = v.w;`);
    L.push(`    }`);
    L.push(`    for (var i = li; i < BK * BN / 4u; i = i + NT) {`);
    L.push(`      let kr = i / (BN / 4u); let cq = i % (BN / 4u);`);
    L.push(`      let gk = t + kr; let gc = tileCol + cq * 4u;`);
    L.push(`      var v = vec4<f32>(0.0);`);
    L.push(`      if (gk < K && gc < N) { v = vec4<f32>(B[(bOff + gk * N + gc) / 4u]); }`);
    L.push(`      Bs[kr][cq] = v;`);
    L.push(`    }`);
  } else {
    L.push(`    for (var i = li; i < BM * BK; i = i + NT) {`);
    L.push(`      let r = i / BK; let kk = i % BK;`);
    L.push(`      let gr = tileRow + r; let gk = t + kk;`);
    L.push(`      var v = 0.0;`);
    L.push(`      if (gr < M && gk < K) { v = f32(A[aOff + gr * K + gk]); }`);
    L.push(`      As[kk][r] = v;`);
    L.push(`    }`);
    L.push(`    for (var i = li; i < BK * BN; i = i + NT) {`);
    L.push(`      let kr = i / BN; let cc = i % BN;`);
    L.push(`      let gk = t + kr; let gc = tileCol + cc;`);
    L.push(`      var v = 0.0;`);
    L.push(`      if (gk < K && gc < N) { v = f32(B[bOff + gk * N + gc]); }`);
    L.push(`      Bs[kr][cc / 4u][cc % 4u] = v;`);
    L.push(`    }`);
  }
  L.push(`    workgroupBarrier();`);
  L.push(`    for (var k = 0u; k < BK; k = k + 1u) {`);
  for (let i = 0; i < c.tm; i++) L.push(`      let a${i} = vec4<f32>(As[k][row0 + ${i}u]);`);
  for (let j = 0; j < tnv; j++) L.push(`      let b${j} = Bs[k][colv0 + ${j}u];`);
  for (let i = 0; i < c.tm; i++)
    for (let j = 0; j < tnv; j++) L.push(`      acc${i}_${j} = fma(a${i}, b${j}, acc${i}_${j});`);
  L.push(`    }`);
  L.push(`    workgroupBarrier();`);
  L.push(`  }`);
  // Store: each register vec4 covers 4 adjacent columns.
  for (let i = 0; i < c.tm; i++) {
    L.push(`  { let r = tileRow + row0 + ${i}u;`);
    L.push(`    if (r < M) {`);
    for (let j = 0; j < tnv; j++) {
      L.push(`      { let col = tileCol + (colv0 + ${j}u) * 4u;`);
      if (vec4) {
        L.push(`        if (col < N) { C[(cOff + r * N + col) / 4u] = vec4<T>(acc${i}_${j}); } }`);
      } else {
        L.push(`        for (var e = 0u; e < 4u; e = e + 1u) { if (col + e < N) { C[cOff + r * N + col + e] = T(acc${i}_${j}[e]); } } }`);
      }
    }
    L.push(`    }`);
    L.push(`  }`);
  }
  L.push(`}`);
  return L.join('\n');
}
