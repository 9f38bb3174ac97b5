"""The two-level Betty mode on tiny sizes: wiring, purity, hypergradient and callbacks."""

import pytest
import torch
from betty.hypergradient import get_grads
from torch import nn

from e2eaug.problems.names import AUG
from examples.ssl_gan.byol import BYOL
from examples.ssl_gan.problems import (
    SSL,
    GeneratorProblem,
    SSLProblem,
    TwoLevelEngine,
    betty_configs,
)
from examples.ssl_gan.simclr import SimCLR
from examples.ssl_gan.style_gan import Discriminator, StyleGenerator
from examples.ssl_gan.views import ViewConfig


class TinyBackbone(nn.Module):
    feature_dim = 8

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                 nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, x):
        return self.net(x)


def build(hypergradient="darts", unroll=1, method="simclr", steps=4):
    torch.manual_seed(0)
    g = StyleGenerator(size=8, z_dim=8, w_dim=8, mapping_layers=8, channel_base=32, max_channels=8)
    d = Discriminator(size=8, channel_base=32, max_channels=8)
    if method == "simclr":
        model = SimCLR(backbone=TinyBackbone(), hidden_dim=16, proj_dim=8)
    else:
        model = BYOL(backbone=TinyBackbone(), hidden_dim=16, proj_dim=8, base_tau=0.9)
    pool = torch.rand(20, 3, 8, 8)
    heldout = torch.rand(10, 3, 8, 8)
    gen_cfg, ssl_cfg = betty_configs(hypergradient, unroll, 0.01, 1, 0.1)
    views = ViewConfig()
    ssl = SSLProblem(config=ssl_cfg, method=model,
                     optimizer=torch.optim.Adam(model.online_parameters(), lr=1e-3),
                     pool=pool, real_batch=4, gen_batch=4, view_cfg=views, total_steps=steps,
                     seed=0)
    gen = GeneratorProblem(config=gen_cfg, generator=g,
                           optimizer=torch.optim.Adam(g.parameters(), lr=2e-3, betas=(0.0, 0.99)),
                           discriminator=d,
                           d_optimizer=torch.optim.Adam(d.parameters(), lr=2e-3, betas=(0.0, 0.99)),
                           pool=pool, heldout=heldout, batch_size=4, ssl_batch=4, view_cfg=views,
                           beta=1.0, r1_gamma=1.0, r1_every=2, mixing_prob=0.9, seed=1)
    engine = TwoLevelEngine(gen, ssl, steps, torch.device("cpu"), log_every=steps)
    return engine, gen, ssl


def snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


def changed(module, before):
    return any(not torch.equal(p, b) for p, b in zip(module.parameters(), before))


def test_problem_names_are_wired():
    engine, gen, ssl = build()
    assert (AUG, SSL) == ("aug", "ssl")
    assert getattr(engine, AUG) is gen and getattr(ssl, AUG) is gen and getattr(gen, SSL) is ssl
    assert [[p.name for p in path] for path in gen.paths] == [["aug", "ssl", "aug"]]
    assert ssl.leaf and not gen.leaf
    assert gen.device == ssl.device == torch.device("cpu")


@pytest.mark.parametrize("hypergradient,unroll", [("darts", 1), ("darts", 2), ("neumann", 1)])
def test_tiny_run_moves_generator_and_steps_discriminator_once_per_generator_step(
        hypergradient, unroll):
    steps = 4
    engine, gen, ssl = build(hypergradient, unroll, steps=steps)
    d_calls = []
    d_step = gen.d_optimizer.step
    gen.d_optimizer.step = lambda *a, **k: (d_calls.append(ssl.count), d_step(*a, **k))
    g_before, d_before = snapshot(gen.module), snapshot(gen.discriminator)
    engine.run()
    assert ssl.count == steps
    assert gen.count == steps // unroll
    assert len(d_calls) == gen.count == gen.d_steps
    assert d_calls == list(range(unroll, steps + 1, unroll))  # one per generator step
    assert changed(gen.module, g_before) and changed(gen.discriminator, d_before)


def test_training_steps_are_pure_and_deterministic():
    engine, gen, ssl = build(method="byol")
    target = snapshot(ssl.module.target_backbone)
    d_before = snapshot(gen.discriminator)
    batch = ssl.get_batch()
    a, b = ssl.training_step(batch), ssl.training_step(batch)
    assert torch.equal(a, b)
    gen_batch = gen.get_batch()
    la, lb = gen.training_step(gen_batch)["loss"], gen.training_step(gen_batch)["loss"]
    assert torch.equal(la, lb)
    assert not changed(ssl.module.target_backbone, target)
    assert not changed(gen.discriminator, d_before) and gen.d_steps == 0


def test_generated_images_carry_the_hypergradient_to_the_generator():
    engine, gen, ssl = build()
    ssl.cur_batch = ssl.get_batch()
    loss = gen.training_step(gen.get_batch())["loss"]
    grads = get_grads(loss, gen.paths[0], retain_graph=False, do_sync=False)
    assert len(grads) == len(list(gen.module.parameters()))
    assert sum(g.abs().sum() for g in grads) > 0


def test_byol_target_updated_once_per_real_ssl_step():
    steps = 3
    engine, gen, ssl = build(method="byol", steps=steps)
    progress = []
    original = ssl.module.momentum_update
    ssl.module.momentum_update = lambda p: (progress.append(p), original(p))
    engine.run()
    assert progress == [1 / 3, 2 / 3, 1.0]


def test_ssl_problem_needs_generated_images():
    with pytest.raises(ValueError):
        SSLProblem(config=betty_configs("darts", 1, 0.01, 1, 0.1)[1],
                   method=SimCLR(backbone=TinyBackbone()), optimizer=torch.optim.SGD(
                       [nn.Parameter(torch.zeros(1))], lr=0.1),
                   pool=torch.rand(4, 3, 8, 8), real_batch=4, gen_batch=0,
                   view_cfg=ViewConfig(), total_steps=1, seed=0)
    with pytest.raises(ValueError):
        betty_configs("cg", 1, 0.01, 1, 0.1)
