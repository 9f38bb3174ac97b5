"""Synthetic lesions, folder loaders and the example's config."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from e2eaug.config import ConfigError
from e2eaug.data.folder import read_images
from examples.ssl_gan.config import PROFILES_DIR, build_config, profile_names
from examples.ssl_gan.data import labelled_set, mirror, seeded_subset, synthetic_lesions
from examples.ssl_gan.pipeline import load_data, split_batch


def test_synthetic_lesions_deterministic_and_class_dependent():
    a = synthetic_lesions(60, 16, seed=3)
    b = synthetic_lesions(60, 16, seed=3)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert a.images.shape == (60, 3, 16, 16)
    assert 0 <= a.images.min() and a.images.max() <= 1
    assert a.labels.tolist() == [0, 1, 2] * 20
    brightness = a.images.mean(dim=(1, 2, 3))
    contrast = a.images.std(dim=(1, 2, 3))
    assert brightness[a.labels == 1].mean() > brightness[a.labels == 0].mean()  # smaller lesions
    assert contrast[a.labels == 2].mean() < contrast[a.labels == 0].mean()  # low contrast
    assert not torch.equal(a.images, synthetic_lesions(60, 16, seed=4).images)


def write_images(folder: Path, names, size=(12, 10)):
    folder.mkdir(parents=True)
    for i, name in enumerate(names):
        arr = np.full((size[1], size[0], 3), 20 * i, dtype=np.uint8)
        Image.fromarray(arr).save(folder / name)


def read(folder, size=8):
    return read_images(folder, size, 3)[:2]


def test_labelled_folder(tmp_path):
    write_images(tmp_path / "images", ["a.png", "b.png", "c.jpg", "unlabelled.png"])
    (tmp_path / "labels.csv").write_text("id,diagnosis\nc,melanoma\na,melanoma\nb,common_nevus\n")
    images, paths = read(tmp_path / "images")
    data = labelled_set(tmp_path / "labels.csv", images, paths)
    assert data.images.shape == (3, 3, 8, 8) and data.groups is None
    assert data.classes == ("common_nevus", "melanoma")
    assert data.labels.tolist() == [1, 1, 0]
    assert torch.equal(data.images[1], images[0]) and torch.equal(data.images[0], images[2])  # csv order


def test_labelled_folder_errors(tmp_path):
    write_images(tmp_path / "images", ["a.png"])
    images, paths = read(tmp_path / "images")
    with pytest.raises(FileNotFoundError, match="labels file"):
        labelled_set(tmp_path / "labels.csv", images, paths)
    (tmp_path / "labels.csv").write_text("name,label\na,x\n")
    with pytest.raises(ValueError, match="id,diagnosis"):
        labelled_set(tmp_path / "labels.csv", images, paths)
    (tmp_path / "labels.csv").write_text("id,diagnosis\nzz,x\n")
    with pytest.raises(FileNotFoundError, match="no image"):
        labelled_set(tmp_path / "labels.csv", images, paths)
    (tmp_path / "labels.csv").write_text("id,diagnosis\n")
    with pytest.raises(ValueError, match="no rows"):
        labelled_set(tmp_path / "labels.csv", images, paths)


def test_seeded_subset_and_mirror():
    images = torch.arange(10.0).view(10, 1, 1, 1).expand(10, 3, 2, 2)
    a = seeded_subset(images, 6, seed=0)
    assert a.shape == (6, 3, 2, 2) and torch.equal(a, seeded_subset(images, 6, seed=0))
    assert len(set(a[:, 0, 0, 0].tolist())) == 6 and not torch.equal(a, seeded_subset(images, 6, seed=1))
    with pytest.raises(ValueError, match="only 10"):
        seeded_subset(images, 11, seed=0)
    x = torch.arange(2.0).view(1, 1, 1, 2).expand(64, 3, 2, 2)
    flipped = mirror(x, torch.Generator().manual_seed(0))[:, 0, 0, 0] == 1
    assert 0 < flipped.sum() < 64
    assert torch.equal(mirror(x, torch.Generator().manual_seed(0)), mirror(x, torch.Generator().manual_seed(0)))


def test_real_data_missing_gives_a_clear_error(tmp_path):
    cfg = build_config("test", ["data.source=real", f"data.root={tmp_path}"])
    with pytest.raises(FileNotFoundError, match="--data-root"):
        load_data(cfg.data, 10)


def test_batch_split():
    assert split_batch(32, 1000, 1000) == (16, 16)
    assert split_batch(32, 250, 4000) == (2, 30)
    assert split_batch(8, 1000, 1) == (7, 1)


def test_config_profiles_and_errors():
    cfg = build_config("quick", ["ssl.steps=7", "two_level.hypergradient=neumann"])
    assert cfg.ssl.steps == 7 and cfg.two_level.hypergradient == "neumann"
    assert cfg.gan.mapping_layers == 8 and cfg.gan.optimizer.betas == [0.0, 0.99] and cfg.gan.optimizer.lr == 0.002
    assert cfg.probe.lr == 1e-4 and cfg.probe.seeds == [0, 1, 2, 3, 4]
    for bad in (["ssl.nope=1"], ["data.image_size=24"], ["two_level.hypergradient=cg"]):
        with pytest.raises(ConfigError):
            build_config("test", bad)
    with pytest.raises(ConfigError, match="known profiles: cpu_ham10000, full, paper, quick, test"):
        build_config("huge")
    assert profile_names() == ["cpu_ham10000", "full", "paper", "quick", "test"]
    tuned = build_config("cpu_ham10000")  # quick, with the settings measured on HAM10000
    assert tuned.ssl.steps == 250 and tuned.ssl.stem_stride == 2 and tuned.gan.steps == 400
    with pytest.raises(ConfigError, match="ssl.optimizer.lr"):  # e2eaug's value limits apply
        build_config("test", ["ssl.optimizer.lr=0"])
    with pytest.raises(ConfigError, match="gan.batch_size"):
        build_config("test", ["gan.batch_size=0"])


def test_profile_from_a_yaml_file_with_a_base(tmp_path):
    (tmp_path / "mine.yaml").write_text(f"base: {PROFILES_DIR / 'test.yaml'}\nssl: {{steps: 9}}\n")
    cfg = build_config(str(tmp_path / "mine.yaml"))
    assert cfg.ssl.steps == 9 and cfg.data.image_size == 16  # the rest from the test profile


def test_ham10000_probe_set_is_read_with_its_lesion_ids(tmp_path):
    pool = tmp_path / "ham10000_unlabelled"
    names = [f"ISIC_{i}.jpg" for i in range(12)]
    write_images(pool / "images", names, size=(20, 20))
    rows = "".join(f"ISIC_{i},{'nv' if i % 3 else 'mel'},HAM_{i // 2}\n" for i in range(10))
    (pool / "labels.csv").write_text("id,diagnosis,lesion_id\n" + rows)
    cfg = build_config("test", ["data.source=real", f"data.root={tmp_path}", "data.probe_set=ham10000",
                                "data.pool_size=4", "data.heldout_size=2", "grid.pool_sizes=[]"])
    data = load_data(cfg.data, 4)
    assert data.probe.images.shape[0] == 10 and data.probe.classes == ("mel", "nv")
    assert data.probe.groups[:4] == ("HAM_0", "HAM_0", "HAM_1", "HAM_1")
    with pytest.raises(ConfigError, match="data.probe_set"):
        build_config("test", ["data.probe_set=isic"])
