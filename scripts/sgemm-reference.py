#!/usr/bin/env python3
"""CPU sgemm GFLOP/s through numpy's OpenBLAS, for scale beside
`roentgen bench kernels` on a software adapter (lavapipe runs on these cores).

    pip install numpy && python3 scripts/sgemm-reference.py
"""
import time

import numpy as np

try:
    from threadpoolctl import threadpool_info
except ImportError:
    threadpool_info = None

SHAPES = [(8192, 320, 320), (8192, 320, 2560), (2048, 640, 640), (512, 1280, 1280), (154, 768, 3072)]

if threadpool_info:
    for lib in threadpool_info():
        print(f"# {lib.get('internal_api')} {lib.get('version')} {lib.get('architecture')} threads={lib.get('num_threads')}")
for m, k, n in SHAPES:
    a = np.random.rand(m, k).astype(np.float32)
    b = np.random.rand(k, n).astype(np.float32)
    a @ b
    iters = 5
    t = time.perf_counter()
    for _ in range(iters):
        a @ b
    dt = (time.perf_counter() - t) / iters
    print(f"sgemm {m}x{k}.{k}x{n}: {dt * 1e3:8.2f} ms {2 * m * k * n / dt / 1e9:7.1f} GFLOP/s")
