/**
 * The element types NCCL has beyond f32/f16/bf16/i32: int8, uint8, uint32, int64, uint64,
 * double, fp8 e4m3 and e5m2. Their encodings (fp8 per OCP, rounding to nearest even and
 * saturating as CUDA's __NV_SATFINITE constructors do), their ops (integers wrap at their
 * width, avg truncates toward zero, fp8 steps through f16 as NCCL's do), their inputs,
 * poison and check (64-bit integers exactly, beyond 2^53), the names nccl-tests' `-d`
 * gives them, and which backends refuse which, with the reason.
 */
import { describe, expect, it } from 'vitest';
import '../src/kernels/index.js';
import {
  allocate,
  COLLECTIVE_DTYPES,
  elementBytes,
  encode,
  FP8_TO_NUMBER,
  readElement,
  roundToF16,
  toF16,
  F16_TO_F32,
  toFp8,
  view,
  type CollectiveDtype,
} from '../src/collectives/dtypes.js';
import { finalize, fp8Step, REDUCE_OPS, reduceIntoJs } from '../src/collectives/ops.js';
import { absoluteToleranceOf, checkedBytes, checkOutput, rankInput, toleranceOf } from '../src/collectives/reference.js';
import { poison, poisonValue } from '../src/collectives/poison.js';
import { allocateBuffers, type CollectiveCall } from '../src/collectives/collective.js';
import { prepareRank } from '../src/collectives/reference.js';
import { NCCL_TYPE_ALIASES, NCCL_TYPE_NAMES } from '../src/collectives/nccl-tests.js';
import { ncclDtypeSupport, ncclOneProcessDtypeSupport } from '../src/collectives/nccl/dtypes.js';
import { wgslUnsupported } from '../src/collectives/gpu-reduce.js';
import { DTYPES } from '../src/harness/results/schema.js';
import { freshSeed } from '../src/harness/random.js';

const NEW = ['i8', 'u8', 'u32', 'i64', 'u64', 'f64', 'fp8e4m3', 'fp8e5m2'] as const;

describe('fp8 encodings', () => {
  it('decode every E4M3 pattern per OCP: no infinity, NaN only at S.1111.111, max 448, min subnormal 2^-9', () => {
    const t = FP8_TO_NUMBER.fp8e4m3;
    expect(t[0x7e]).toBe(448);
    expect(t[0xfe]).toBe(-448);
    expect(t[0x7f]).toBeNaN();
    expect(t[0xff]).toBeNaN();
    expect(t[0x78]).toBe(256); // S.1111.000 is a value, not infinity
    expect(t[0x38]).toBe(1);
    expect(t[0x01]).toBe(2 ** -9);
    expect(t[0x08]).toBe(2 ** -6);
    expect(Object.is(t[0x80], -0)).toBe(true);
    expect([...t].filter((v) => Number.isNaN(v))).toHaveLength(2);
    expect([...t].some((v) => !Number.isFinite(v) && !Number.isNaN(v))).toBe(false);
  });

  it('decode every E5M2 pattern IEEE-like: ±Inf, NaN, max 57344, min subnormal 2^-16', () => {
    const t = FP8_TO_NUMBER.fp8e5m2;
    expect(t[0x7b]).toBe(57344);
    expect(t[0x7c]).toBe(Infinity);
    expect(t[0xfc]).toBe(-Infinity);
    for (const b of [0x7d, 0x7e, 0x7f, 0xfd, 0xfe, 0xff]) expect(t[b]).toBeNaN();
    expect(t[0x3c]).toBe(1);
    expect(t[0x01]).toBe(2 ** -16);
    // E5M2 is f16 with the low 8 bits dropped: every finite pattern decodes as that f16.
    for (let b = 0; b < 256; b++) if (Number.isFinite(t[b]!)) expect(t[b]).toBe(F16_TO_F32[b << 8]);
  });

  for (const dtype of ['fp8e4m3', 'fp8e5m2'] as const)
    it(`${dtype}: every value encodes back to its own pattern; NaN to 0x7f`, () => {
      const t = FP8_TO_NUMBER[dtype];
      for (let b = 0; b < 256; b++) {
        const v = t[b]!;
        if (Number.isNaN(v)) expect(toFp8(dtype, v)).toBe(0x7f);
        else if (Number.isFinite(v)) expect(toFp8(dtype, v), `pattern ${b}`).toBe(b);
      }
    });

  it('round to nearest, ties to even, and saturate to ±max (±Inf too) as __NV_SATFINITE does', () => {
    // E4M3 around 1: the step is 1/8.
    expect(toFp8('fp8e4m3', 1 + 1 / 16)).toBe(0x38); // tie → even (1.000)
    expect(toFp8('fp8e4m3', 1 + 3 / 16)).toBe(0x3a); // tie → even (1.010)
    expect(toFp8('fp8e4m3', 1 + 1 / 16 + 2 ** -20)).toBe(0x39); // above the tie
    expect(toFp8('fp8e4m3', 464)).toBe(0x7e); // max + half an ulp ties to 448
    expect(toFp8('fp8e4m3', 500)).toBe(0x7e);
    expect(toFp8('fp8e4m3', 1e9)).toBe(0x7e);
    expect(toFp8('fp8e4m3', Infinity)).toBe(0x7e);
    expect(toFp8('fp8e4m3', -Infinity)).toBe(0xfe);
    expect(toFp8('fp8e4m3', 2 ** -10)).toBe(0x00); // half the smallest subnormal ties to 0
    expect(toFp8('fp8e4m3', -(2 ** -10) * 1.01)).toBe(0x81);
    expect(toFp8('fp8e4m3', -0)).toBe(0x80);
    expect(toFp8('fp8e5m2', 61440)).toBe(0x7b);
    expect(toFp8('fp8e5m2', 1e6)).toBe(0x7b);
    expect(toFp8('fp8e5m2', Infinity)).toBe(0x7b);
    expect(toFp8('fp8e5m2', -Infinity)).toBe(0xfb);
    expect(toFp8('fp8e5m2', 1.125)).toBe(0x3c); // tie → even
    expect(toFp8('fp8e5m2', 1.375)).toBe(0x3e); // tie → even (1.10)
    expect(toFp8('fp8e5m2', NaN)).toBe(0x7f);
  });

  it('roundToF16 rounds once (no float32 step), overflowing to ±Inf', () => {
    for (const x of [1, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, 0.1, 3e-8, -7.25]) expect(roundToF16(x)).toBe(F16_TO_F32[toF16(x)]);
    expect(roundToF16(65520)).toBe(Infinity);
    expect(roundToF16(65519)).toBe(65504);
    // 1 + 2^-11 + 2^-30: just above the f16 tie; a float32 step would round it onto the tie and then to 1.
    expect(roundToF16(1 + 2 ** -11 + 2 ** -30)).toBe(1 + 2 ** -10);
  });

  it('fp8 steps go through f16 and saturate as NCCL does: max + max = max, Inf + 1 = max on E5M2, NaN stays', () => {
    expect(fp8Step('fp8e4m3', 'sum', 0x7e, 0x7e)).toBe(0x7e);
    expect(fp8Step('fp8e4m3', 'prod', 0x7e, 0xfe)).toBe(0xfe);
    expect(fp8Step('fp8e5m2', 'sum', 0x7b, 0x7b)).toBe(0x7b);
    expect(fp8Step('fp8e5m2', 'sum', 0x7c, 0x3c)).toBe(0x7b);
    expect(fp8Step('fp8e5m2', 'sum', 0x7c, 0xfc)).toBe(0x7f);
    expect(fp8Step('fp8e4m3', 'sum', 0x7f, 0x38)).toBe(0x7f);
    expect(fp8Step('fp8e4m3', 'sum', 0x38, 0x38)).toBe(0x40); // 1 + 1 = 2
    expect(fp8Step('fp8e4m3', 'min', 0x38, 0xb8)).toBe(0xb8);
    expect(fp8Step('fp8e5m2', 'max', 0x38, 0x3c)).toBe(0x3c);
  });
});

describe('integer ops wrap at their width', () => {
  const step = (dtype: CollectiveDtype, op: (typeof REDUCE_OPS)[number], a: (number | bigint)[], b: (number | bigint)[]) => {
    const d = allocate(dtype, a.length) as Int32Array;
    const s = allocate(dtype, b.length) as Int32Array;
    a.forEach((x, i) => (d[i] = x as number));
    b.forEach((x, i) => (s[i] = x as number));
    reduceIntoJs(dtype, op, d, s);
    return [...d];
  };

  it('8 and 32 bits: sums and products wrap as two\'s complement, min/max in the type\'s order', () => {
    expect(step('i8', 'sum', [127, -128, 100], [1, -1, 100])).toEqual([-128, 127, -56]);
    expect(step('i8', 'prod', [64, -128, 16], [2, -1, 16])).toEqual([-128, -128, 0]);
    expect(step('u8', 'sum', [255, 200], [1, 100])).toEqual([0, 44]);
    expect(step('u8', 'prod', [16, 255], [16, 255])).toEqual([0, 1]);
    expect(step('u8', 'min', [0, 255], [255, 128])).toEqual([0, 128]);
    expect(step('u32', 'sum', [2 ** 32 - 1], [2])).toEqual([1]);
    expect(step('u32', 'prod', [2 ** 32 - 1, 65536], [2 ** 32 - 1, 65536])).toEqual([1, 0]);
    expect(step('u32', 'max', [2 ** 31], [2 ** 31 - 1])).toEqual([2 ** 31]);
  });

  it('64 bits: exact beyond 2^53, wrapping at 2^64', () => {
    expect(step('i64', 'sum', [2n ** 63n - 1n, 2n ** 53n], [1n, 1n])).toEqual([-(2n ** 63n), 2n ** 53n + 1n]);
    expect(step('i64', 'prod', [2n ** 62n, -(2n ** 63n)], [2n, -1n])).toEqual([-(2n ** 63n), -(2n ** 63n)]);
    expect(step('i64', 'min', [-(2n ** 63n), 5n], [2n ** 63n - 1n, 4n])).toEqual([-(2n ** 63n), 4n]);
    expect(step('u64', 'sum', [2n ** 64n - 1n], [2n])).toEqual([1n]);
    expect(step('u64', 'prod', [2n ** 32n + 1n], [2n ** 32n - 1n])).toEqual([2n ** 64n - 1n]);
    expect(step('u64', 'max', [2n ** 63n], [2n ** 63n - 1n])).toEqual([2n ** 63n]);
  });

  it('avg is the wrapped sum divided by n, truncated toward zero (NCCL\'s ncclAvg on integers)', () => {
    const avg = (dtype: CollectiveDtype, v: (number | bigint)[], n: number) => {
      const d = allocate(dtype, v.length) as Int32Array;
      v.forEach((x, i) => (d[i] = x as number));
      finalize(dtype, 'avg', d, n);
      return [...d];
    };
    expect(avg('i8', [-7, 7, -128], 2)).toEqual([-3, 3, -64]);
    expect(avg('u8', [255, 7], 2)).toEqual([127, 3]);
    expect(avg('u32', [2 ** 32 - 1], 3)).toEqual([1431655765]);
    expect(avg('i64', [-(2n ** 63n), -7n, 2n ** 60n + 1n], 2)).toEqual([-(2n ** 62n), -3n, 2n ** 59n]);
    expect(avg('u64', [2n ** 64n - 1n], 2)).toEqual([2n ** 63n - 1n]);
  });
});

describe('inputs, poison and the check of the new dtypes', () => {
  const call = (dtype: CollectiveDtype, op: (typeof REDUCE_OPS)[number] = 'sum', count = 4096): CollectiveCall => ({ kind: 'allreduce', dtype, op, algorithm: 'ring', count, inPlace: false });

  it('sizes and views', () => {
    expect(NEW.map(elementBytes)).toEqual([1, 1, 4, 8, 8, 8, 1, 1]);
    expect(view('i64', new Uint8Array(16))).toBeInstanceOf(BigInt64Array);
    expect(view('u64', new Uint8Array(16))).toBeInstanceOf(BigUint64Array);
    expect(view('u32', new Uint8Array(16))).toBeInstanceOf(Uint32Array);
    expect(view('i8', new Uint8Array(16))).toBeInstanceOf(Int8Array);
    expect(view('f64', new Uint8Array(16))).toBeInstanceOf(Float64Array);
    expect(view('fp8e5m2', new Uint8Array(16))).toBeInstanceOf(Uint8Array);
    expect(readElement('fp8e4m3', encode('fp8e4m3', [3.3]), 0)).toBe(3.25);
  });

  it('i64 and u64 inputs lie beyond 2^53, and their sums over 64 ranks inside the type', () => {
    for (const dtype of ['i64', 'u64'] as const) {
      const inputs = Array.from({ length: 64 }, (_, r) => rankInput(call(dtype), 64, r, 12345) as BigInt64Array);
      expect(inputs[0]!.some((v) => (v < 0n ? -v : v) > 2n ** 53n)).toBe(true);
      for (let i = 0; i < 64; i++) {
        const sum = inputs.reduce((s, a) => s + a[i]!, 0n);
        expect(sum < 2n ** 63n && sum > -(2n ** 63n)).toBe(true);
        if (dtype === 'u64') expect(sum >= 0n).toBe(true);
      }
    }
  });

  it('no sum, product, average or pick of the checked inputs equals the poison, on 1 to 7 ranks', () => {
    for (const dtype of ['i8', 'u8', 'u32', 'i64', 'u64'] as const)
      for (const op of REDUCE_OPS)
        for (const ranks of [1, 2, 3, 5, 7]) {
          const c = call(dtype, op, 512);
          const seed = freshSeed();
          const ins = Array.from({ length: ranks }, (_, r) => rankInput(c, ranks, r, seed));
          const acc = allocate(dtype, 512);
          (acc as Int32Array).set(ins[0] as Int32Array);
          for (const x of ins.slice(1)) reduceIntoJs(dtype, op, acc, x);
          finalize(dtype, op, acc, ranks);
          const p = poisonValue(dtype);
          for (const a of [acc, ...ins]) expect([...a].includes(p as never), `${dtype} ${op} ${ranks}`).toBe(false);
        }
    const f = allocate('fp8e4m3', 4);
    poison('fp8e4m3', f as Uint8Array);
    expect(readElement('fp8e4m3', f, 0)).toBeNaN();
  });

  it('the check is exact for i64/u64 beyond 2^53: one low bit off is one wrong element', () => {
    for (const dtype of ['i64', 'u64'] as const) {
      const c = call(dtype, 'sum', 1000);
      const ranks = 3;
      const seed = freshSeed();
      const out = allocate(dtype, 1000) as BigInt64Array;
      const ins = Array.from({ length: ranks }, (_, r) => rankInput(c, ranks, r, seed) as BigInt64Array);
      for (let i = 0; i < 1000; i++) out[i] = ins.reduce((s, a) => s + a[i]!, 0n);
      const bytes = new Uint8Array(out.buffer);
      expect(checkOutput(c, ranks, 0, seed, bytes)).toMatchObject({ passed: true, wrong: 0 });
      const at = out.findIndex((v) => (v < 0n ? -v : v) > 2n ** 54n);
      expect(at).toBeGreaterThanOrEqual(0);
      // A change of the low bits that the element's double does not see.
      const was = out[at]!;
      const delta = [1n, -1n, 2n, -2n].find((d) => Number(was + d) === Number(was))!;
      out[at] = was + delta;
      expect(Number(out[at])).toBe(Number(was));
      expect(checkOutput(c, ranks, 0, seed, bytes)).toMatchObject({ passed: false, wrong: 1 });
    }
  });

  it('tolerances: 0 for the integers, 2(n+1)·u for the floats with u = 2^-53 (f64), 2^-4 (e4m3), 2^-3 (e5m2)', () => {
    for (const dtype of ['i8', 'u8', 'u32', 'i64', 'u64'] as const) expect(toleranceOf(call(dtype), 5)).toBe(0);
    expect(toleranceOf(call('f64'), 5)).toBe(12 * 2 ** -53);
    expect(toleranceOf(call('fp8e4m3'), 5)).toBe(12 * 2 ** -4);
    expect(toleranceOf(call('fp8e5m2'), 3)).toBe(8 * 2 ** -3);
    expect(toleranceOf(call('fp8e5m2', 'max'), 3)).toBe(0);
  });

  it('an average that underflows among the subnormals passes; an error of several subnormal steps does not', () => {
    // e4m3: the avg of 2^-9 and 0 is 2^-10, between 0 and the smallest subnormal 2^-9; either
    // rounding is right, though the relative bound (0.375 of Σ|x| = 2^-9) allows only 0.75·2^-10.
    // (A CI run met it: "fp8e4m3 avg 1001 root 1 rank 1: 1 wrong".)
    const c = call('fp8e4m3', 'avg');
    const bound = (scale: number) => toleranceOf(c, 2) * scale + absoluteToleranceOf(c, 2);
    expect(toleranceOf(c, 2) * 2 ** -9).toBeLessThan(2 ** -10);
    expect(2 ** -10).toBeLessThanOrEqual(bound(2 ** -9));
    expect(4 * 2 ** -9).toBeGreaterThan(bound(2 ** -9));
    for (const dtype of ['i8', 'u64'] as const) expect(absoluteToleranceOf(call(dtype, 'sum'), 2)).toBe(0);
    expect(absoluteToleranceOf(call('fp8e4m3', 'max'), 2)).toBe(0);
  });

  it('an output nothing wrote fails its check for every new dtype (the poison is caught)', () => {
    for (const dtype of NEW)
      for (const kind of ['allreduce', 'allgather', 'broadcast'] as const) {
        const c: CollectiveCall = { ...call(dtype, 'sum', 64), kind, root: 0 };
        const seed = freshSeed();
        const b = allocateBuffers(c, 2, 1);
        prepareRank(c, 2, 1, seed, b);
        // No collective ran: the output is the poison, and not one element of it passes.
        expect(checkOutput(c, 2, 1, seed, checkedBytes(c, 2, 1, b)), `${kind} ${dtype}`).toMatchObject({ passed: false, wrong: 64 });
      }
  });
});

describe('names and backends', () => {
  it('every nccl-tests -d name maps to a dtype and back', () => {
    const names = { int8: 'i8', uint8: 'u8', int32: 'i32', uint32: 'u32', int64: 'i64', uint64: 'u64', half: 'f16', float: 'f32', double: 'f64', bfloat16: 'bf16', fp8_e4m3: 'fp8e4m3', fp8_e5m2: 'fp8e5m2' };
    for (const [name, ours] of Object.entries(names)) {
      expect(NCCL_TYPE_ALIASES[name]).toBe(ours);
      expect(NCCL_TYPE_NAMES[ours as CollectiveDtype]).toBe(name);
    }
    expect(new Set(Object.values(NCCL_TYPE_ALIASES))).toEqual(new Set(COLLECTIVE_DTYPES));
    for (const d of COLLECTIVE_DTYPES) expect(DTYPES).toContain(d);
  });

  it('nccl across processes runs every dtype (bytes upload) and names NCCL 2.24 for fp8 on an older one; in one process what its float32 upload carries', () => {
    for (const d of COLLECTIVE_DTYPES) expect(ncclDtypeSupport(d, 22703)).toBeUndefined();
    expect(ncclDtypeSupport('fp8e4m3', 22304)).toBe('fp8e4m3 needs NCCL ≥ 2.24 (this is 2.23.4)');
    expect(ncclDtypeSupport('fp8e5m2', 21903)).toMatch(/needs NCCL ≥ 2\.24 \(this is 2\.19\.3\)/);
    for (const d of ['f32', 'f16', 'bf16', 'i32', 'f64'] as const) expect(ncclOneProcessDtypeSupport(d)).toBeUndefined();
    for (const d of ['i8', 'u8', 'u32', 'i64', 'u64', 'fp8e4m3'] as const) expect(ncclOneProcessDtypeSupport(d)).toMatch(new RegExp(`float32 values.*${d} runs on nccl across processes`));
  });

  it('webgpu-local refuses what WGSL has no type for, naming it', () => {
    for (const d of ['f32', 'f16', 'i32', 'u32'] as const) expect(wgslUnsupported(d)).toBeUndefined();
    expect(wgslUnsupported('bf16')).toMatch(/no bf16 type/);
    expect(wgslUnsupported('f64')).toMatch(/no f64 type/);
    expect(wgslUnsupported('i8')).toMatch(/no 8-bit integer type/);
    expect(wgslUnsupported('u64')).toMatch(/no 64-bit integer type/);
    expect(wgslUnsupported('fp8e5m2')).toMatch(/no fp8 type/);
  });
});
