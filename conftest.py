# Root conftest: puts the repository root on sys.path so tests can import `benchmarks` and
# `examples` modules, which are scripts rather than installed packages.

import torch

# The suite's models are tiny: one thread avoids oversubscribing small CPUs (CI has 2 cores).
torch.set_num_threads(1)
