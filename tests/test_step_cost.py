"""benchmarks.step_cost times whole arch cycles: every arch step is in its mean."""

from benchmarks.step_cost import CASES, build_case, cycle_steps
from e2eaug.problems import names

TINY = ["data.n_train=4", "data.n_val=2", "augmenter.generator.kwargs={depth: 2, base_width: 4}",
        "seg.segmenter.kwargs={depth: 2, base_width: 4}", "augmenter.discriminator.kwargs={base_width: 4, n_layers: 1}"]


def test_a_cycle_is_seg_unroll_steps_global_steps_with_one_arch_step():
    assert "e2eaug" in CASES
    engine, step = build_case("e2eaug", 16, "cpu", TINY + ["seg.unroll_steps=3"])
    assert cycle_steps(engine) == 3
    arch = getattr(engine, names.ARCH)
    for _ in range(2 * 3):
        step()
    assert arch.count == 2
    engine, _ = build_case("gan_joint", 16, "cpu", TINY + ["seg.unroll_steps=3"])
    assert cycle_steps(engine) == 1  # no arch level
