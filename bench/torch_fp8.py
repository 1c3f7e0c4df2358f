#!/usr/bin/env python3
"""PyTorch's FP8 (e4m3) matrix product, the yardstick for gpubench's cuda fp8 case.

torch._scaled_mm needs the second operand column-major (cuBLASLt's TN layout, as gpubench
uses) and unit scales here; output bf16. Prints lines like torch_matmul.py does:
{"dtype": "fp8", "m", "n", "k", "median_ms", "tflops"}.
    python3 bench/torch_fp8.py --sizes 8192
"""
import argparse
import json

import torch


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", type=int, nargs="+", default=[8192])
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--reps", type=int, default=50)
    args = p.parse_args()
    one = torch.tensor(1.0, device="cuda")
    for n in args.sizes:
        a = torch.randn(n, n, device="cuda").to(torch.float8_e4m3fn)
        b = torch.randn(n, n, device="cuda").to(torch.float8_e4m3fn).t().contiguous().t()  # column-major
        for _ in range(args.warmup):
            torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)
        torch.cuda.synchronize()
        times = []
        for _ in range(args.reps):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)
            e.record()
            e.synchronize()
            times.append(s.elapsed_time(e))
        times.sort()
        med = times[len(times) // 2]
        print(json.dumps({"dtype": "fp8", "m": n, "n": n, "k": n, "median_ms": med, "tflops": 2 * n**3 / (med * 1e-3) / 1e12}), flush=True)


if __name__ == "__main__":
    main()
