# Root conftest: puts the repository root on sys.path so tests can import `benchmarks` and
# `examples` modules, which are scripts rather than installed packages.
