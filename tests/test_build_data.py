"""build_data for both sources, PairDataset, and their errors."""

import numpy as np
import pytest
import torch
from PIL import Image

from e2eaug.config import DataConfig
from e2eaug.config import TestSetConfig as ExtraTestSet
from e2eaug.data import PairDataset, build_data, to_channels


def _folder(root, n=6, size=16):
    rng = np.random.default_rng(0)
    for i in range(n):
        (root / "images").mkdir(parents=True, exist_ok=True)
        (root / "masks").mkdir(exist_ok=True)
        image = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        Image.fromarray(image).save(root / "images" / f"c{i}.png")
        mask = np.zeros((size, size), np.uint8)
        mask[2:9, 3:10] = 255
        Image.fromarray(mask).save(root / "masks" / f"c{i}.png")
    return root


def test_synthetic_bundle_splits_without_repeats():
    cfg = DataConfig(n_train=5, n_val=3, n_test=4, image_size=16, shifted_domains=["ood", "ood_blur"])
    bundle = build_data(cfg)
    sizes = [len(bundle.train), len(bundle.val)] + [len(bundle.tests[k]) for k in ("id", "ood", "ood_blur")]
    assert sizes == [5, 3, 4, 4, 4] and bundle.channels == 3
    every = torch.cat([bundle.train.images, bundle.val.images] + [t.images for t in bundle.tests.values()])
    assert len(torch.unique(every.flatten(1), dim=0)) == len(every)
    assert build_data(cfg).train.names == bundle.train.names  # deterministic per seed
    other_seed = DataConfig(n_train=5, n_val=3, n_test=4, image_size=16, seed=1)
    assert not torch.equal(build_data(other_seed).train.images, bundle.train.images)


def test_synthetic_test_sets_are_fixed_and_training_sets_nest():
    runs = [build_data(DataConfig(n_train=k, n_val=3, n_test=4, image_size=16, seed=s)) for k in (2, 6) for s in (0, 1)]
    for bundle in runs[1:]:
        for name in ("id", "ood"):
            assert torch.equal(bundle.tests[name].images, runs[0].tests[name].images)
    small, large = runs[0], runs[2]  # seed 0 at 2 and 6 training pairs
    assert torch.equal(large.train.images[:2], small.train.images) and torch.equal(large.val.images, small.val.images)
    moved = build_data(DataConfig(n_train=2, n_val=3, n_test=4, image_size=16, test_seed=1))
    assert not torch.equal(moved.tests["id"].images, small.tests["id"].images)


def test_synthetic_channels_can_be_converted():
    bundle = build_data(DataConfig(task="lung", channels=3, n_train=2, n_val=1, n_test=1, image_size=16))
    assert bundle.channels == 3 and bundle.tests["ood"].channels == 3
    assert torch.equal(bundle.train.images[:, 0], bundle.train.images[:, 2])


def test_folder_bundle_with_extra_tests(tmp_path):
    root = _folder(tmp_path / "d")
    cfg = DataConfig(source="folder", root=str(root), n_train=3, n_val=1, n_test=2, image_size=8, channels=1,
                     extra_tests=[ExtraTestSet("other", str(root))])
    bundle = build_data(cfg)
    sizes = [len(bundle.train), len(bundle.val), len(bundle.tests["test"]), len(bundle.tests["other"])]
    assert sizes == [3, 1, 2, 6]
    assert bundle.channels == 1 and bundle.tests["other"].images.shape == (6, 1, 8, 8)
    names = bundle.train.names + bundle.val.names + bundle.tests["test"].names
    assert sorted(names) == [f"c{i}" for i in range(6)]


def test_bad_configs_name_the_problem(tmp_path):
    root = str(_folder(tmp_path / "d"))
    with pytest.raises(ValueError, match="unknown data.source 'web'; known: synthetic, folder"):
        build_data(DataConfig(source="web"))
    with pytest.raises(ValueError, match="unknown synthetic task 'eye'"):
        build_data(DataConfig(task="eye", n_train=1, n_val=1, n_test=1))
    with pytest.raises(ValueError, match="unknown domain 'mars'"):
        build_data(DataConfig(shifted_domains=["mars"], n_train=1, n_val=1, n_test=1, image_size=8))
    with pytest.raises(ValueError, match="test set name 'id' is used twice"):
        build_data(DataConfig(shifted_domains=["id"], n_train=1, n_val=1, n_test=1, image_size=8))
    with pytest.raises(ValueError, match="need data.n_train > 0"):
        build_data(DataConfig(n_train=0))
    with pytest.raises(ValueError, match="data.root must name a folder"):
        build_data(DataConfig(source="folder"))
    with pytest.raises(ValueError, match="larger than the 6 pairs"):
        build_data(DataConfig(source="folder", root=root, n_train=2, n_val=1, n_test=4, image_size=8))
    with pytest.raises(ValueError, match="test set name 'test' is used twice"):
        build_data(DataConfig(source="folder", root=root, n_train=2, n_val=1, n_test=1, image_size=8,
                              extra_tests=[ExtraTestSet("test", root)]))
    with pytest.raises(ValueError, match=r"extra_tests\[0\] \('ph2'\): root must name a folder"):
        build_data(DataConfig(source="folder", root=root, n_train=2, n_val=1, n_test=1, image_size=8,
                              extra_tests=[ExtraTestSet("ph2", "")]))


def test_pair_dataset_items_and_subset():
    images, masks = torch.rand(4, 1, 6, 6), (torch.rand(4, 1, 6, 6) > 0.5).to(torch.uint8)
    data = PairDataset(images, masks)
    assert data.masks.dtype == torch.float32 and data.names[0] == "pair_00000" and data.channels == 1
    image, mask = data[1]
    assert torch.equal(image, images[1]) and torch.equal(mask, masks[1].float())
    part = data.subset(np.array([3, 0]))
    assert part.names == ["pair_00003", "pair_00000"] and torch.equal(part.images[0], images[3])
    with pytest.raises(IndexError, match="subset indices must lie in \\[0, 4\\)"):
        data.subset([4])


def test_pair_dataset_rejects_bad_inputs():
    ok_images, ok_masks = torch.rand(2, 3, 4, 4), torch.zeros(2, 1, 4, 4)
    with pytest.raises(ValueError, match="images must be \\[N, 1\\|3, H, W\\], got shape \\[2, 4, 4\\]"):
        PairDataset(torch.rand(2, 4, 4), ok_masks)
    with pytest.raises(ValueError, match="masks must be \\[N, 1, H, W\\]"):
        PairDataset(ok_images, torch.zeros(2, 2, 4, 4))
    with pytest.raises(ValueError, match="differ in N, H or W"):
        PairDataset(ok_images, torch.zeros(2, 1, 4, 5))
    with pytest.raises(ValueError, match="image values must lie in \\[0, 1\\]"):
        PairDataset(ok_images * 255, ok_masks)
    with pytest.raises(ValueError, match="mask values must be 0 or 1"):
        PairDataset(ok_images, ok_masks + 255)
    with pytest.raises(ValueError, match="3 names for 2 pairs"):
        PairDataset(ok_images, ok_masks, names=["a", "b", "c"])
    with pytest.raises(ValueError, match="1 or 3 channels to 1 or 3, got 3 -> 2"):
        to_channels(ok_images, 2)
