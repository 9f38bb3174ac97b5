"""The SSL-with-GAN-augmentation experiment: pipeline (reference) and two-level (Betty) runs.

Pipeline: train the style GAN on the real unlabelled pool, generate N images, pretrain SimCLR or
BYOL on real + generated images, linear-probe the frozen encoder. Baselines: a random encoder
(no pretraining) and SSL on the real pool only. Two-level: the generator (upper) and the encoder
(lower) are trained together by Betty (:mod:`examples.ssl_gan.problems`), the generator warm-started
from the pipeline's GAN; the encoder gets the same number of steps as in the pipeline and
batches with the same real/generated proportion.

:class:`Experiment` caches what several rows share (data, GANs per pool size, generated sets,
finished rows), so a benchmark trains each GAN once.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import torch

from e2eaug.batching import StepBatcher, stream_seed
from e2eaug.data.folder import read_images
from e2eaug.optim import build_optimizer
from e2eaug.utils import atomic_torch_save, json_text, seed_everything
from examples.ssl_gan.backbone import SmallResNet18
from examples.ssl_gan.config import ExperimentConfig, SSLDataConfig, SSLTrainConfig
from examples.ssl_gan.data import LabelledSet, default_data_root, labelled_set, seeded_subset, synthetic_lesions
from examples.ssl_gan.gan_training import GAN, build_gan, generate, train_gan
from examples.ssl_gan.methods import SSLMethod, build_method
from examples.ssl_gan.probe import ProbeResult, extract_features, linear_probe
from examples.ssl_gan.problems import GeneratorProblem, SSLProblem, TwoLevelEngine, betty_configs
from examples.ssl_gan.style_gan import StyleGenerator
from examples.ssl_gan.views import ViewConfig, apply_view, sample_view_params

UNLABELLED_DIR = Path("ham10000_unlabelled")
#: The labelled probe sets of ``data.probe_set`` (folders with images/ and labels.csv).
PROBE_DIRS = {"ph2": Path("ph2"), "ham10000": UNLABELLED_DIR}


@dataclass
class SSLData:
    """Real unlabelled images for pretraining (``pool``; the first n form a pool of size n),
    disjoint held-out unlabelled images and the labelled probe set, all in ``[0, 1]``."""

    pool: torch.Tensor
    heldout: torch.Tensor
    probe: LabelledSet


def load_data(cfg: SSLDataConfig, max_pool: int) -> SSLData:
    """Load (``real``) or generate (``synthetic``) ``max_pool + heldout_size`` unlabelled images
    and the labelled probe set.

    Raises:
        FileNotFoundError: a real-data folder is missing (names the expected layout).
    """
    n = max_pool + cfg.heldout_size
    if cfg.source == "synthetic":
        unlabelled = synthetic_lesions(n, cfg.image_size, stream_seed(cfg.seed, "pool")).images
        probe = synthetic_lesions(cfg.n_labelled, cfg.image_size, stream_seed(cfg.seed, "probe"))
    else:
        root = Path(cfg.root) if cfg.root else default_data_root()
        probe_dir = PROBE_DIRS[cfg.probe_set]
        for sub in (UNLABELLED_DIR / "images", probe_dir / "images", probe_dir / "labels.csv"):
            if not (root / sub).exists():
                raise FileNotFoundError(
                    f"real data not found: {root / sub} is missing. Expected "
                    f"<data-root>/{UNLABELLED_DIR}/images/*.jpg and <data-root>/{probe_dir}/images/ "
                    f"with labels.csv (id,diagnosis); pass --data-root or use --data synthetic")
        read = {d: read_images(root / d / "images", cfg.image_size, 3)[:2] for d in {UNLABELLED_DIR, probe_dir}}
        unlabelled = seeded_subset(read[UNLABELLED_DIR][0], n, cfg.seed)
        probe = labelled_set(root / probe_dir / "labels.csv", *read[probe_dir])
    return SSLData(unlabelled[:max_pool], unlabelled[max_pool:], probe)


def view_config(cfg: SSLTrainConfig) -> ViewConfig:
    """SimCLR view settings of an SSL config."""
    return ViewConfig(crop_scale=tuple(cfg.crop_scale), jitter_strength=cfg.jitter_strength,
                      gray_prob=cfg.gray_prob)


def build_ssl(method: str, cfg: SSLTrainConfig, device: torch.device, seed: int) -> SSLMethod:
    """A freshly initialised SimCLR/BYOL on a small-input ResNet-18 (``weights=None``)."""
    seed_everything(seed)
    kwargs = {"temperature": cfg.temperature} if method == "simclr" else {"base_tau": cfg.byol_tau}
    return build_method(method, backbone=encoder(cfg), hidden_dim=cfg.hidden_dim,
                        proj_dim=cfg.proj_dim, **kwargs).to(device)


def encoder(cfg: SSLTrainConfig) -> SmallResNet18:
    """A randomly initialised encoder with the config's stem."""
    return SmallResNet18(stem_stride=cfg.stem_stride, stem_maxpool=cfg.stem_maxpool)


def ssl_optimizer(model: SSLMethod, cfg: SSLTrainConfig) -> torch.optim.Optimizer:
    """The configured optimiser (Adam by default) over the online parameters."""
    return build_optimizer(cfg.optimizer, model.online_parameters())


def pretrain(model: SSLMethod, images: torch.Tensor, cfg: SSLTrainConfig, seed: int,
             log_every: int = 20) -> List[float]:
    """Self-supervised training of ``model`` on ``images`` for ``cfg.steps`` steps.

    Batches are shuffled epochs of ``images`` (:class:`~e2eaug.batching.StepBatcher`); two
    SimCLR views per image, drawn from the ``views`` seed stream.

    Returns:
        The loss of every step.
    """
    batches = StepBatcher([images], cfg.batch_size, stream_seed(seed, "ssl_batches"))
    views = view_config(cfg)
    opt = ssl_optimizer(model, cfg)
    rng = torch.Generator().manual_seed(stream_seed(seed, "views"))
    model.train()
    losses = []
    for step in range(1, cfg.steps + 1):
        (x,) = batches.batch(step - 1)
        v1 = sample_view_params(x.shape[0], views, rng, x.device)
        v2 = sample_view_params(x.shape[0], views, rng, x.device)
        loss = model.loss(apply_view(x, v1), apply_view(x, v2))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        model.momentum_update(step / cfg.steps)
        losses.append(loss.item())
        if step % log_every == 0 or step == cfg.steps:
            print(f"  ssl step {step}/{cfg.steps}  loss {loss.item():.4f}", flush=True)
    return losses


def split_batch(batch_size: int, n_real: int, n_generated: int) -> Tuple[int, int]:
    """Real and generated images per batch in proportion to the two set sizes (each >= 1)."""
    gen = round(batch_size * n_generated / (n_real + n_generated))
    gen = min(max(gen, 1), batch_size - 1)
    return batch_size - gen, gen


class Experiment:
    """Rows of the results tables for one config, sharing data, GANs and finished rows.

    Args:
        cfg: the resolved experiment config.
        device: where models train.
        save_dir: where each finished row is appended to ``rows.jsonl`` and each row's encoder (``encoders/<row>.pt``, the backbone's state dict)
            and each trained GAN (``gans/<name>.pt``: generator and discriminator) are saved;
            ``None`` saves nothing.
    """

    def __init__(self, cfg: ExperimentConfig, device: torch.device, save_dir: Optional[Path] = None) -> None:
        self.cfg = cfg
        self.device = torch.device(device)
        self.save_dir = None if save_dir is None else Path(save_dir)
        max_pool = max([cfg.data.pool_size, *cfg.grid.pool_sizes])
        t0 = time.time()
        self.data = load_data(cfg.data, max_pool)
        print(f"data: {cfg.data.source}, pool {tuple(self.data.pool.shape)}, held-out "
              f"{tuple(self.data.heldout.shape)}, probe {tuple(self.data.probe.images.shape)} "
              f"classes {self.data.probe.classes} ({time.time() - t0:.1f}s)", flush=True)
        self._gans: Dict[int, GAN] = {}
        self.gan_logs: Dict[int, List[Dict[str, float]]] = {}
        self._generated: Dict[Tuple[int, int], torch.Tensor] = {}
        self._rows: Dict[Tuple, Dict] = {}
        self.two_level_generator: Optional[StyleGenerator] = None

    def pool(self, size: int) -> torch.Tensor:
        """The first ``size`` pool images, on the device."""
        if size > self.data.pool.shape[0]:
            raise ValueError(f"pool size {size} > {self.data.pool.shape[0]} loaded images")
        return self.data.pool[:size].to(self.device)

    def gan(self, pool_size: int) -> GAN:
        """The GAN trained on the pool of ``pool_size`` (trained on first use)."""
        if pool_size not in self._gans:
            print(f"[gan] training on {pool_size} real images", flush=True)
            t0 = time.time()
            gan, log = train_gan(self.pool(pool_size), self.cfg.gan, self.device,
                                 self.cfg.seed, log_every=max(1, self.cfg.gan.steps // 5))
            print(f"[gan] done in {time.time() - t0:.0f}s", flush=True)
            self._save("gans", f"pool{pool_size}", {"generator": gan.generator.state_dict(),
                                                   "discriminator": gan.discriminator.state_dict()})
            self._gans[pool_size] = gan
            self.gan_logs[pool_size] = log
        return self._gans[pool_size]

    def generated(self, pool_size: int, n: int) -> torch.Tensor:
        """``n`` images from the GAN of ``pool_size``."""
        key = (pool_size, n)
        if key not in self._generated:
            self._generated[key] = generate(self.gan(pool_size).generator, n,
                                               stream_seed(self.cfg.seed, "generated"))
        return self._generated[key]

    def probe(self, backbone: torch.nn.Module) -> ProbeResult:
        """Linear-probe accuracy of a frozen backbone on the labelled set."""
        p = self.cfg.probe
        feats = extract_features(backbone, self.data.probe.images)
        return linear_probe(feats, self.data.probe.labels, seeds=p.seeds,
                            train_fraction=p.train_fraction, lr=p.lr, epochs=p.epochs,
                            batch_size=p.batch_size, report_epochs=p.report_epochs,
                            groups=self.data.probe.groups, validation=p.validation)

    def _row(self, key: Tuple, name: str, method: str, pool: int, generated: int, fn) -> Dict:
        if key not in self._rows:
            print(f"[{name}] method={method} pool={pool} generated={generated}", flush=True)
            t0 = time.time()
            model, extra = fn()
            backbone = model.backbone if method != "none" else model
            self._save("encoders", "_".join(map(str, key)), backbone.state_dict())
            result = self.probe(backbone)
            seconds = time.time() - t0
            summary = result.to_dict()
            val = (f", validation {summary['val_mean']:.3f} / balanced {summary['val_balanced_mean']:.3f}"
                   if "val_mean" in summary else "")
            print(f"[{name}] probe accuracy {result.mean:.3f} +- {result.std:.3f}, balanced "
                  f"{summary['balanced_mean']:.3f}{val} ({seconds:.0f}s)", flush=True)
            self._rows[key] = {"name": name, "method": method, "pool": pool,
                               "generated": generated, "probe": summary,
                               "seconds": round(seconds, 1), **extra}
            if self.save_dir is not None:  # each row as it finishes, should the run stop early
                with open(self.save_dir / "rows.jsonl", "a", encoding="utf-8") as fh:
                    fh.write(json_text(self._rows[key]) + "\n")
        return self._rows[key]

    def _save(self, folder: str, name: str, state: Dict) -> None:
        if self.save_dir is not None:
            atomic_torch_save(state, self.save_dir / folder / f"{name}.pt")

    def random_encoder(self) -> Dict:
        """No pretraining: a randomly initialised encoder."""

        def fn():
            seed_everything(self.cfg.seed)
            return encoder(self.cfg.ssl).to(self.device), {}

        return self._row(("none",), "no pretraining", "none", 0, 0, fn)

    def pipeline(self, method: str, pool_size: int, n_generated: int) -> Dict:
        """SSL on ``pool_size`` real images plus ``n_generated`` GAN images (0: real only)."""

        def fn():
            images = self.pool(pool_size)
            if n_generated > 0:
                images = torch.cat([images, self.generated(pool_size, n_generated)])
            model = build_ssl(method, self.cfg.ssl, self.device, self.cfg.seed)
            losses = pretrain(model, images, self.cfg.ssl, self.cfg.seed,
                              log_every=max(1, self.cfg.ssl.steps // 5))
            return model, {"ssl_final_loss": sum(losses[-10:]) / len(losses[-10:])}

        name = f"{method} + GAN" if n_generated else method
        return self._row(("pipeline", method, pool_size, n_generated), name, method, pool_size,
                         n_generated, fn)

    def two_level(self, method: str, beta: float) -> Dict:
        """Generator (upper, adversarial + ``beta`` * held-out SSL loss) and encoder (lower)
        trained together by Betty; ``beta = 0`` is the control without the hypergradient's
        pull on the generator."""
        name = f"{method} + GAN, two-level ({self.cfg.two_level.hypergradient}, beta={beta:g})"
        return self._row(("two-level", method, f"beta{beta:g}"), name, method, self.cfg.data.pool_size,
                         self.cfg.gan.n_generated, lambda: self.run_two_level(method, beta))

    def run_two_level(self, method: str, beta: float) -> Tuple[SSLMethod, Dict]:
        """Build the ``gen``/``ssl`` problems and run Betty for ``ssl.steps`` global steps.

        Returns:
            The trained SSL method and statistics (generator and discriminator step counts,
            the generator's parameter change, the last losses).
        """
        cfg, tl = self.cfg, self.cfg.two_level
        pool_size, n_gen = cfg.data.pool_size, cfg.gan.n_generated
        if tl.warm_start:
            src = self.gan(pool_size)
            gen, disc = copy.deepcopy(src.generator), copy.deepcopy(src.discriminator)
        else:
            torch.manual_seed(cfg.seed)
            fresh = build_gan(cfg.gan, cfg.data.image_size, self.device)
            gen, disc = fresh.generator, fresh.discriminator
        start = [p.detach().clone() for p in gen.parameters()]
        model = build_ssl(method, cfg.ssl, self.device, cfg.seed)
        gen_cfg, ssl_cfg = betty_configs(tl.hypergradient, tl.unroll_steps, tl.darts_alpha,
                                         tl.neumann_iterations, tl.neumann_alpha)
        real_b, gen_b = split_batch(cfg.ssl.batch_size, pool_size, n_gen)
        views = view_config(cfg.ssl)
        ssl_problem = SSLProblem(config=ssl_cfg, method=model,
                                 optimizer=ssl_optimizer(model, cfg.ssl),
                                 pool=self.pool(pool_size), real_batch=real_b,
                                 gen_batch=gen_b, view_cfg=views, total_steps=cfg.ssl.steps,
                                 seed=cfg.seed)
        gen_problem = GeneratorProblem(
            config=gen_cfg, generator=gen,
            optimizer=build_optimizer(cfg.gan.optimizer, gen.parameters()),
            discriminator=disc,
            d_optimizer=build_optimizer(cfg.gan.optimizer, disc.parameters()),
            pool=self.pool(pool_size), heldout=self.data.heldout.to(self.device),
            batch_size=cfg.gan.batch_size,
            ssl_batch=cfg.ssl.batch_size, view_cfg=views, beta=beta,
            r1_gamma=cfg.gan.r1_gamma, r1_every=cfg.gan.r1_every,
            mixing_prob=cfg.gan.mixing_prob, seed=cfg.seed)
        engine = TwoLevelEngine(gen_problem, ssl_problem, cfg.ssl.steps, self.device,
                                log_every=max(1, cfg.ssl.steps // 10))
        engine.run()
        moved = sum((p.detach() - s).pow(2).sum() for p, s in zip(gen.parameters(), start))
        if beta == tl.beta:
            self.two_level_generator = gen
        self._save("gans", f"two-level_{method}_beta{beta:g}",
                   {"generator": gen.state_dict(), "discriminator": disc.state_dict()})
        return model, {"generator_steps": gen_problem.count,
                       "discriminator_steps": gen_problem.d_steps,
                       "generator_param_change": float(moved.sqrt()),
                       "real_per_batch": real_b, "generated_per_batch": gen_b}

    def samples(self, n: int = 8) -> torch.Tensor:
        """Rows of real, pipeline-GAN and two-level-GAN images (those that exist), in ``[0, 1]``."""
        rows = [self.data.pool[:n].to(self.device)]
        if self.cfg.data.pool_size in self._gans:
            rows.append(generate(self._gans[self.cfg.data.pool_size].generator, n, 123))
        if self.two_level_generator is not None:
            rows.append(generate(self.two_level_generator, n, 123))
        return torch.cat(rows).cpu()


def run(
    cfg: ExperimentConfig, mode: str, method: str, device: torch.device, save_dir: Optional[Path] = None
) -> Tuple[Dict, Experiment]:
    """Run ``mode`` (``pipeline``, ``two-level`` or ``benchmark``) and collect its rows.

    * ``pipeline``: no pretraining, ``method`` on real images, ``method`` + GAN images.
    * ``two-level``: the Betty run of ``method`` (with its pipeline GAN as warm start).
    * ``benchmark``: the table (no pretraining; SimCLR and BYOL without and with GAN images;
      two-level ``method`` at ``two_level.beta`` and the ``beta = 0`` control) and the grid of
      pool sizes x generated counts for ``method``.

    Returns:
        ``{"table": [...], "grid": [...], "gan_logs": {pool size: losses}}`` and the
        :class:`Experiment` (for samples). Encoders and GANs are saved under ``save_dir``.
    """
    if mode not in ("pipeline", "two-level", "benchmark"):
        raise ValueError(f"mode must be pipeline, two-level or benchmark, got {mode!r}")
    exp = Experiment(cfg, device, save_dir)
    pool, n_gen = cfg.data.pool_size, cfg.gan.n_generated
    table, grid = [], []
    if mode in ("pipeline", "benchmark"):
        table.append(exp.random_encoder())
        methods = ("simclr", "byol") if mode == "benchmark" else (method,)
        for m in methods:
            table.append(exp.pipeline(m, pool, 0))
            table.append(exp.pipeline(m, pool, n_gen))
    if mode in ("two-level", "benchmark"):
        betas = [cfg.two_level.beta] + ([0.0] if mode == "benchmark" and cfg.two_level.beta != 0 else [])
        table += [exp.two_level(method, beta) for beta in betas]
    if mode == "benchmark":
        for p in cfg.grid.pool_sizes:
            for n in cfg.grid.generated:
                grid.append(exp.pipeline(method, p, n))
    return {"table": table, "grid": grid, "gan_logs": exp.gan_logs}, exp


__all__ = ["Experiment", "SSLData", "build_ssl", "load_data", "pretrain", "run", "split_batch",
           "view_config"]
