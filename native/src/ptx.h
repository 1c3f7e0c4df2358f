// Hand-written PTX for the node-acceptance workloads, loaded at run time with
// cuModuleLoadData (the driver JIT-compiles it for the GPU at hand), so the addon still
// needs no CUDA toolkit to build. Checked with `ptxas -arch=sm_90` (test/ptx.test.ts).
//
//   gb_copy(src, dst, n16, nwords)   grid-stride copy: n16 16-byte vectors, then the
//                                    32-bit words from 4·n16 up to nwords (the SM copy)
//   gb_empty(flag, value)            does nothing when flag is 0 (the timed launches);
//                                    otherwise stores value at flag (the checked launch)
//   gb_compare32(a, b, n, faults)    counts 32-bit elements where a and b differ bitwise,
//   gb_compare16(a, b, n, faults)    (16-bit) and adds the count to *faults (u64)
#pragma once

namespace gb {

inline const char* kAcceptPtx = R"PTX(
.version 7.0
.target sm_70
.address_size 64

.visible .entry gb_copy(.param .u64 p_src, .param .u64 p_dst, .param .u64 p_n16, .param .u64 p_nwords)
{
  .reg .pred %p<2>;
  .reg .b32 %r<10>;
  .reg .b64 %rd<20>;
  ld.param.u64 %rd1, [p_src];
  ld.param.u64 %rd2, [p_dst];
  ld.param.u64 %rd3, [p_n16];
  ld.param.u64 %rd4, [p_nwords];
  cvta.to.global.u64 %rd1, %rd1;
  cvta.to.global.u64 %rd2, %rd2;
  mov.u32 %r1, %ntid.x;
  mov.u32 %r2, %nctaid.x;
  mul.wide.u32 %rd5, %r1, %r2;
  mov.u32 %r3, %ctaid.x;
  mov.u32 %r4, %tid.x;
  cvt.u64.u32 %rd7, %r4;
  mad.wide.u32 %rd6, %r3, %r1, %rd7;
  mov.u64 %rd16, %rd6;
VEC:
  setp.ge.u64 %p1, %rd6, %rd3;
  @%p1 bra TAIL;
  shl.b64 %rd8, %rd6, 4;
  add.s64 %rd9, %rd1, %rd8;
  add.s64 %rd10, %rd2, %rd8;
  ld.global.v4.u32 {%r5, %r6, %r7, %r8}, [%rd9];
  st.global.v4.u32 [%rd10], {%r5, %r6, %r7, %r8};
  add.s64 %rd6, %rd6, %rd5;
  bra VEC;
TAIL:
  shl.b64 %rd11, %rd3, 2;
  add.s64 %rd12, %rd16, %rd11;
WORD:
  setp.ge.u64 %p1, %rd12, %rd4;
  @%p1 bra DONE;
  shl.b64 %rd13, %rd12, 2;
  add.s64 %rd14, %rd1, %rd13;
  add.s64 %rd15, %rd2, %rd13;
  ld.global.u32 %r9, [%rd14];
  st.global.u32 [%rd15], %r9;
  add.s64 %rd12, %rd12, %rd5;
  bra WORD;
DONE:
  ret;
}

.visible .entry gb_empty(.param .u64 p_flag, .param .u32 p_value)
{
  .reg .pred %p<2>;
  .reg .b32 %r<2>;
  .reg .b64 %rd<3>;
  ld.param.u64 %rd1, [p_flag];
  setp.eq.u64 %p1, %rd1, 0;
  @%p1 bra DONE;
  ld.param.u32 %r1, [p_value];
  cvta.to.global.u64 %rd2, %rd1;
  st.global.u32 [%rd2], %r1;
DONE:
  ret;
}

.visible .entry gb_compare32(.param .u64 p_a, .param .u64 p_b, .param .u64 p_n, .param .u64 p_faults)
{
  .reg .pred %p<3>;
  .reg .b32 %r<8>;
  .reg .b64 %rd<16>;
  ld.param.u64 %rd1, [p_a];
  ld.param.u64 %rd2, [p_b];
  ld.param.u64 %rd3, [p_n];
  ld.param.u64 %rd4, [p_faults];
  cvta.to.global.u64 %rd1, %rd1;
  cvta.to.global.u64 %rd2, %rd2;
  cvta.to.global.u64 %rd4, %rd4;
  mov.u32 %r1, %ntid.x;
  mov.u32 %r2, %nctaid.x;
  mul.wide.u32 %rd5, %r1, %r2;
  mov.u32 %r3, %ctaid.x;
  mov.u32 %r4, %tid.x;
  cvt.u64.u32 %rd7, %r4;
  mad.wide.u32 %rd6, %r3, %r1, %rd7;
  mov.u64 %rd8, 0;
LOOP:
  setp.ge.u64 %p1, %rd6, %rd3;
  @%p1 bra END;
  shl.b64 %rd9, %rd6, 2;
  add.s64 %rd10, %rd1, %rd9;
  add.s64 %rd11, %rd2, %rd9;
  ld.global.u32 %r5, [%rd10];
  ld.global.u32 %r6, [%rd11];
  setp.ne.u32 %p2, %r5, %r6;
  selp.u64 %rd12, 1, 0, %p2;
  add.s64 %rd8, %rd8, %rd12;
  add.s64 %rd6, %rd6, %rd5;
  bra LOOP;
END:
  setp.eq.u64 %p1, %rd8, 0;
  @%p1 bra DONE;
  atom.global.add.u64 %rd13, [%rd4], %rd8;
DONE:
  ret;
}

.visible .entry gb_compare16(.param .u64 p_a, .param .u64 p_b, .param .u64 p_n, .param .u64 p_faults)
{
  .reg .pred %p<3>;
  .reg .b16 %h<3>;
  .reg .b32 %r<8>;
  .reg .b64 %rd<16>;
  ld.param.u64 %rd1, [p_a];
  ld.param.u64 %rd2, [p_b];
  ld.param.u64 %rd3, [p_n];
  ld.param.u64 %rd4, [p_faults];
  cvta.to.global.u64 %rd1, %rd1;
  cvta.to.global.u64 %rd2, %rd2;
  cvta.to.global.u64 %rd4, %rd4;
  mov.u32 %r1, %ntid.x;
  mov.u32 %r2, %nctaid.x;
  mul.wide.u32 %rd5, %r1, %r2;
  mov.u32 %r3, %ctaid.x;
  mov.u32 %r4, %tid.x;
  cvt.u64.u32 %rd7, %r4;
  mad.wide.u32 %rd6, %r3, %r1, %rd7;
  mov.u64 %rd8, 0;
LOOP:
  setp.ge.u64 %p1, %rd6, %rd3;
  @%p1 bra END;
  shl.b64 %rd9, %rd6, 1;
  add.s64 %rd10, %rd1, %rd9;
  add.s64 %rd11, %rd2, %rd9;
  ld.global.u16 %h1, [%rd10];
  ld.global.u16 %h2, [%rd11];
  setp.ne.b16 %p2, %h1, %h2;
  selp.u64 %rd12, 1, 0, %p2;
  add.s64 %rd8, %rd8, %rd12;
  add.s64 %rd6, %rd6, %rd5;
  bra LOOP;
END:
  setp.eq.u64 %p1, %rd8, 0;
  @%p1 bra DONE;
  atom.global.add.u64 %rd13, [%rd4], %rd8;
DONE:
  ret;
}
)PTX";

}  // namespace gb
