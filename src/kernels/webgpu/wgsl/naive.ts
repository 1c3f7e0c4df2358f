/**
 * The naive WGSL GEMM: one invocation per element of C, k loop over global memory.
 * It is the readable reference the tiled kernel is measured against, and a floor: any
 * adapter runs it.
 */
import { preamble, type WgslDtype } from './tiled.js';

/** Workgroup edge of the naive kernel (16×16 = 256 invocations, within every adapter's limits). */
export const NAIVE_WG = 16;

/** Generates the naive kernel's WGSL (f32 accumulation for both storage types). */
export function naiveMatmulWgsl(dtype: WgslDtype): string {
  return `${preamble(dtype)}
@group(0) @binding(0) var<storage, read> A: array<T>;
@group(0) @binding(1) var<storage, read> B: array<T>;
@group(0) @binding(2) var<storage, read_write> C: array<T>;
@compute @workgroup_size(${NAIVE_WG}, ${NAIVE_WG}, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let M = dims.M; let N = dims.N; let K = dims.K;
  let row = gid.y; let col = gid.x; let b = gid.z;
  if (row >= M || col >= N) { return; }
  let aOff = b * M * K + row * K; let bOff = b * K * N + col;
  var acc = 0.0;
  for (var k = 0u; k < K; k = k + 1u) {
    acc = fma(f32(A[aOff + k]), f32(B[bOff + k * N]), acc);
  }
  C[b * M * N + row * N + col] = T(acc);
}
`;
}
