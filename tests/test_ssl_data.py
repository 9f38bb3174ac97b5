"""Synthetic lesions, folder loaders and the example's config."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from e2eaug.config import ConfigError
from e2eaug.ssl.config import build_config
from e2eaug.ssl.data import (
    ImagePool,
    load_image_folder,
    load_labelled_folder,
    make_synthetic_lesions,
)
from e2eaug.ssl.pipeline import load_data, split_batch


def test_synthetic_lesions_deterministic_and_class_dependent():
    a = make_synthetic_lesions(60, 16, seed=3)
    b = make_synthetic_lesions(60, 16, seed=3)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert a.images.shape == (60, 3, 16, 16)
    assert 0 <= a.images.min() and a.images.max() <= 1
    assert set(a.labels.tolist()) == {0, 1, 2}
    centre = a.images[:, :, 6:10, 6:10].mean(dim=(1, 2, 3))
    nevus, melanoma = centre[a.labels == 0].mean(), centre[a.labels == 2].mean()
    assert melanoma < nevus  # melanomas are darker
    assert not torch.equal(a.images, make_synthetic_lesions(60, 16, seed=4).images)


def write_images(folder: Path, names, size=(12, 10)):
    folder.mkdir(parents=True)
    for i, name in enumerate(names):
        arr = np.full((size[1], size[0], 3), 20 * i, dtype=np.uint8)
        Image.fromarray(arr).save(folder / name)


def test_labelled_folder(tmp_path):
    write_images(tmp_path / "images", ["a.png", "b.png", "c.jpg"])
    (tmp_path / "labels.csv").write_text("id,diagnosis\na,melanoma\nb,common_nevus\nc,melanoma\n")
    data = load_labelled_folder(tmp_path, 8)
    assert data.images.shape == (3, 3, 8, 8)
    assert data.classes == ("common_nevus", "melanoma")
    assert data.labels.tolist() == [1, 0, 1]


def test_labelled_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_labelled_folder(tmp_path, 8)
    write_images(tmp_path / "images", ["a.png"])
    (tmp_path / "labels.csv").write_text("name,label\na,x\n")
    with pytest.raises(ValueError, match="id,diagnosis"):
        load_labelled_folder(tmp_path, 8)
    (tmp_path / "labels.csv").write_text("id,diagnosis\nzz,x\n")
    with pytest.raises(FileNotFoundError, match="no image"):
        load_labelled_folder(tmp_path, 8)


def test_image_folder_subset_and_errors(tmp_path):
    write_images(tmp_path / "pool", [f"{i}.jpg" for i in range(5)])
    assert load_image_folder(tmp_path / "pool", 8, n=3, seed=0).shape == (3, 3, 8, 8)
    with pytest.raises(ValueError):
        load_image_folder(tmp_path / "pool", 8, n=9)
    with pytest.raises(FileNotFoundError):
        load_image_folder(tmp_path / "missing", 8)


def test_real_data_missing_gives_a_clear_error(tmp_path):
    cfg = build_config("test", ["data.source=real", f"data.root={tmp_path}"])
    with pytest.raises(FileNotFoundError, match="--data-root"):
        load_data(cfg.data, 10)


def test_image_pool_and_batch_split():
    pool = ImagePool(torch.rand(5, 3, 4, 4))
    assert pool.sample(7, torch.Generator().manual_seed(0), flip=True).shape == (7, 3, 4, 4)
    with pytest.raises(ValueError):
        ImagePool(torch.rand(0, 3, 4, 4))
    assert split_batch(32, 1000, 1000) == (16, 16)
    assert split_batch(32, 250, 4000) == (2, 30)
    assert split_batch(8, 1000, 1) == (7, 1)


def test_config_profiles_and_errors():
    cfg = build_config("quick", ["ssl.steps=7", "two_level.hypergradient=neumann"])
    assert cfg.ssl.steps == 7 and cfg.two_level.hypergradient == "neumann"
    assert cfg.gan.mapping_layers == 8 and cfg.gan.betas == [0.0, 0.99] and cfg.gan.lr == 0.002
    assert cfg.probe.lr == 1e-4 and cfg.probe.seeds == [0, 1, 2, 3, 4]
    for bad in (["ssl.nope=1"], ["data.image_size=24"], ["two_level.hypergradient=cg"]):
        with pytest.raises(ConfigError):
            build_config("test", bad)
    with pytest.raises(ConfigError):
        build_config("huge")


def test_ham10000_probe_set_is_read_with_its_lesion_ids(tmp_path):
    pool = tmp_path / "ham10000_unlabelled"
    names = [f"ISIC_{i}.jpg" for i in range(12)]
    write_images(pool / "images", names)
    rows = "".join(f"ISIC_{i},{'nv' if i % 3 else 'mel'},HAM_{i // 2}\n" for i in range(10))
    (pool / "labels.csv").write_text("id,diagnosis,lesion_id\n" + rows)
    cfg = build_config("test", ["data.source=real", f"data.root={tmp_path}", "data.probe_set=ham10000",
                                "data.pool_size=4", "data.heldout_size=2", "grid.pool_sizes=[]"])
    data = load_data(cfg.data, 4)
    assert data.probe.images.shape[0] == 10 and data.probe.classes == ("mel", "nv")
    assert data.probe.groups[:4] == ("HAM_0", "HAM_0", "HAM_1", "HAM_1")
    with pytest.raises(ConfigError, match="data.probe_set"):
        build_config("test", ["data.probe_set=isic"])
