# Root conftest: puts the repository root on sys.path so tests can import `benchmarks` and
# `examples` modules, which are scripts rather than installed packages.

import os

import torch

# The suite's models are tiny: one thread avoids oversubscribing small CPUs (CI has 2 cores).
# E2EAUG_TEST_THREADS=N runs it with N threads, to check that no test depends on the count.
torch.set_num_threads(int(os.environ.get("E2EAUG_TEST_THREADS", "1")))
