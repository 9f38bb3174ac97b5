"""Folder datasets: the real shared sets, layouts, and every bad input."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from e2eaug.config import DataConfig
from e2eaug.config import TestSetConfig as ExtraTestSet
from e2eaug.data import build_data, load_folder

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _write(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _make_generic(root, n=4, size=20, grey_mask=False, rgb=True):
    rng = np.random.default_rng(0)
    for i in range(n):
        shape = (size, size, 3) if rgb else (size, size)
        _write(root / "images" / f"case{i}.png", rng.integers(0, 255, shape, dtype=np.uint8))
        mask = np.zeros((size, size), np.uint8)
        mask[2:10, 3:12] = 255
        if grey_mask:
            mask[0, 0] = 128
        _write(root / "masks" / f"case{i}.png", mask)
    return root


@pytest.mark.parametrize("name,channels,count", [("ph2", 3, 200), ("jsrt", 1, 247)])
def test_real_shared_sets_load(name, channels, count):
    root = SHARED / name
    if not root.is_dir():
        pytest.skip(f"{root} not present")
    data = load_folder(root, "generic", size=32)
    assert len(data) == count and data.channels == channels
    assert data.images.shape[-2:] == (32, 32)
    assert set(data.masks.unique().tolist()) == {0.0, 1.0}


def test_generic_layout_resizes_and_binarises(tmp_path):
    root = _make_generic(tmp_path / "d", grey_mask=True)
    with pytest.warns(UserWarning, match="4 of 4 masks had more than two grey levels"):
        data = load_folder(root, size=(16, 24))
    assert data.images.shape == (4, 3, 16, 24) and data.masks.shape == (4, 1, 16, 24)
    assert set(data.masks.unique().tolist()) == {0.0, 1.0}
    assert data.names == [f"case{i}" for i in range(4)]
    with pytest.warns(UserWarning, match="binarised"):
        assert load_folder(root, size=16, channels=1).channels == 1


def test_layout_presets(tmp_path):
    rng = np.random.default_rng(0)
    img, mask = rng.integers(0, 255, (12, 12, 3), dtype=np.uint8), np.full((12, 12), 255, np.uint8)
    isic = tmp_path / "isic"
    _write(isic / "ISIC2018_Task1-2_Training_Input" / "ISIC_001.jpg", img)
    _write(isic / "ISIC2018_Task1_Training_GroundTruth" / "ISIC_001_segmentation.png", mask)
    assert load_folder(isic, "isic2018", 8).names == ["ISIC_001"]
    ph2 = tmp_path / "ph2" / "PH2 Dataset images" / "IMD002"
    _write(ph2 / "IMD002_Dermoscopic_Image" / "IMD002.bmp", img)
    _write(ph2 / "IMD002_lesion" / "IMD002_lesion.bmp", mask)
    assert load_folder(tmp_path / "ph2", "ph2", 8).names == ["IMD002"]
    mc = tmp_path / "mc"
    left, right = np.zeros((12, 12), np.uint8), np.zeros((12, 12), np.uint8)
    left[:, :4], right[:, 8:] = 255, 255
    _write(mc / "CXR_png" / "MCU_1.png", img[..., 0])
    _write(mc / "ManualMask" / "leftMask" / "MCU_1.png", left)
    _write(mc / "ManualMask" / "rightMask" / "MCU_1.png", right)
    united = load_folder(mc, "montgomery", 12).masks[0, 0]
    assert united[:, :4].all() and united[:, 8:].all() and not united[:, 5:7].any()


def test_bad_inputs_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="data folder not found"):
        load_folder(tmp_path / "missing")
    (tmp_path / "empty" / "images").mkdir(parents=True)
    (tmp_path / "empty" / "masks").mkdir()
    with pytest.raises(FileNotFoundError, match="no image files"):
        load_folder(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="no folder named 'masks'"):
        (tmp_path / "nomasks" / "images").mkdir(parents=True)
        load_folder(tmp_path / "nomasks")
    root = _make_generic(tmp_path / "lonely")
    (root / "masks" / "case0.png").unlink()
    with pytest.raises(ValueError, match=r"1 image\(s\) without a mask, e.g. \['case0'\]"):
        load_folder(root)
    root = _make_generic(tmp_path / "extra")
    _write(root / "masks" / "ghost.png", np.zeros((20, 20), np.uint8))
    with pytest.raises(ValueError, match=r"mask\(s\) without an image, e.g. \['ghost'\]"):
        load_folder(root)
    root = _make_generic(tmp_path / "corrupt")
    (root / "images" / "case1.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="cannot read image file .*case1.png"):
        load_folder(root)
    with pytest.raises(ValueError, match="unknown layout 'nih'.*generic"):
        load_folder(root, layout="nih")


def test_build_data_splits_and_errors(tmp_path):
    bundle = build_data(DataConfig(n_train=5, n_val=3, n_test=4, image_size=16))
    assert (len(bundle.train), len(bundle.val), len(bundle.tests["id"]), len(bundle.tests["ood"])) == (5, 3, 4, 4)
    names = set(bundle.train.names) | set(bundle.val.names) | set(bundle.tests["id"].names)
    assert len(names) == 12
    root = _make_generic(tmp_path / "d", n=6)
    folder = build_data(DataConfig(source="folder", root=str(root), n_train=3, n_val=1, image_size=16,
                                   extra_tests=[ExtraTestSet("other", str(root))]))
    assert len(folder.tests["test"]) == 2 and len(folder.tests["other"]) == 6
    with pytest.raises(ValueError, match="larger than the 6 pairs"):
        build_data(DataConfig(source="folder", root=str(root), n_train=5, n_val=3, image_size=16))
    with pytest.raises(ValueError, match="n_train must be > 0"):
        build_data(DataConfig(n_train=0))
    with pytest.raises(ValueError, match="unknown data.source 'web'"):
        build_data(DataConfig(source="web"))
    with pytest.raises(ValueError, match="unknown synthetic task 'eye'"):
        build_data(DataConfig(task="eye"))
