"""Folder datasets: the real shared sets, every layout, conversions, and every bad input."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from e2eaug.data import LAYOUTS, load_folder

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
RNG = np.random.default_rng(0)


def _write(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode=mode).save(path)


def _rgb(size=12):
    return RNG.integers(0, 255, (size, size, 3), dtype=np.uint8)


def _block(size=12, rows=slice(2, 8), cols=slice(3, 9)):
    mask = np.zeros((size, size), np.uint8)
    mask[rows, cols] = 255
    return mask


def _make_generic(root, n=4, size=20, grey_mask=False):
    for i in range(n):
        _write(root / "images" / f"case{i}.png", _rgb(size))
        mask = _block(size, slice(2, 10), slice(3, 12))
        if grey_mask:
            mask[0, 0] = 128
        _write(root / "masks" / f"case{i}.png", mask)
    return root


@pytest.mark.parametrize("name,channels,count", [("ph2", 3, 200), ("jsrt", 1, 247)])
def test_real_shared_sets_load(name, channels, count, recwarn):
    root = SHARED / name
    if not root.is_dir():
        pytest.skip(f"{root} not present")
    data = load_folder(root, "generic", size=32)
    assert len(data) == count and data.channels == channels
    assert data.images.shape == (count, channels, 32, 32)
    assert set(data.masks.unique().tolist()) == {0.0, 1.0}
    assert 0.15 < data.masks.mean() < 0.5
    assert not recwarn.list  # the shared masks are 0/255 only: nothing to binarise


def test_generic_layout_resizes_and_binarises_with_one_warning(tmp_path):
    root = _make_generic(tmp_path / "d", size=24, grey_mask=True)
    (root / "labels.csv").write_text("id,label\n")
    with pytest.warns(UserWarning, match="4 of 4 masks had more than two grey levels") as record:
        data = load_folder(root, size=(16, 24))
    assert len(record) == 1
    assert data.images.shape == (4, 3, 16, 24) and data.masks.shape == (4, 1, 16, 24)
    assert set(data.masks.unique().tolist()) == {0.0, 1.0}
    assert data.names == [f"case{i}" for i in range(4)]
    assert 0.0 <= data.images.min() and data.images.max() <= 1.0


def test_channels_follow_the_content(tmp_path):
    grey = RNG.integers(0, 255, (12, 12), dtype=np.uint8)
    _write(tmp_path / "g" / "images" / "a.png", np.stack([grey] * 3, -1))  # grey saved as RGB
    _write(tmp_path / "g" / "masks" / "a.png", _block())
    assert load_folder(tmp_path / "g", size=12).channels == 1
    three = load_folder(tmp_path / "g", size=12, channels=3).images
    assert three.shape[1] == 3 and np.allclose(three[:, 0], three[:, 2])
    root = _make_generic(tmp_path / "c", n=1, size=12)
    colour = load_folder(root, size=12).images
    luma = load_folder(root, size=12, channels=1).images
    expected = 0.299 * colour[:, 0] + 0.587 * colour[:, 1] + 0.114 * colour[:, 2]
    assert luma.shape[1] == 1 and np.allclose(luma[:, 0], expected, atol=1e-5)


def test_sixteen_bit_images_keep_their_range(tmp_path):
    image = np.zeros((8, 8), np.uint16)
    image[:, 4:] = 4095  # 12-bit data in a 16-bit file
    image[:, :4] = 2048
    _write(tmp_path / "x" / "images" / "a.png", image)
    _write(tmp_path / "x" / "masks" / "a.png", _block(8, slice(0, 4), slice(0, 4)))
    with pytest.warns(UserWarning, match="scaled as 12-bit"):
        data = load_folder(tmp_path / "x", size=8)
    assert data.channels == 1
    assert data.images[0, 0, :, 6].mean() == pytest.approx(1.0, abs=1e-3)
    assert data.images[0, 0, :, 1].mean() == pytest.approx(2048 / 4095, abs=1e-3)


def test_layout_presets(tmp_path):
    isic = tmp_path / "isic"
    _write(isic / "ISIC2018_Task1-2_Validation_Input" / "ISIC_001.jpg", _rgb())
    (isic / "ISIC2018_Task1-2_Validation_Input" / "LICENSE.txt").write_text("x")
    _write(isic / "ISIC2018_Task1_Validation_GroundTruth" / "ISIC_001_segmentation.png", _block())
    assert load_folder(isic, "isic2018", 8).names == ["ISIC_001"]

    ph2 = tmp_path / "ph2" / "PH2 Dataset images" / "IMD002"
    _write(ph2 / "IMD002_Dermoscopic_Image" / "IMD002.bmp", _rgb())
    _write(ph2 / "IMD002_lesion" / "IMD002_lesion.bmp", _block())
    assert load_folder(tmp_path / "ph2", "ph2", 8).names == ["IMD002"]
    assert load_folder(tmp_path / "ph2" / "PH2 Dataset images", "ph2", 8).names == ["IMD002"]

    left, right = _block(cols=slice(0, 4)), _block(cols=slice(8, 12))
    mc = tmp_path / "mc"
    _write(mc / "CXR_png" / "MCU_1.png", _rgb()[..., 0])
    _write(mc / "ManualMask" / "leftMask" / "MCU_1.png", left)
    _write(mc / "ManualMask" / "rightMask" / "MCU_1.png", right)
    united = load_folder(mc, "montgomery", 12).masks[0, 0]
    assert united[2:8, :4].all() and united[2:8, 8:].all() and not united[:, 5:7].any()

    jsrt = tmp_path / "jsrt"
    _write(jsrt / "images" / "JPCLN001.png", _rgb()[..., 0])
    _write(jsrt / "masks" / "left lung" / "JPCLN001.gif", left)  # SCR masks are gif
    _write(jsrt / "masks" / "right lung" / "JPCLN001.gif", right)
    data = load_folder(jsrt, "jsrt", 12)
    assert data.channels == 1 and data.masks.sum() == 2 * 6 * 4

    kvasir = tmp_path / "kvasir"
    _write(kvasir / "images" / "cju0.jpg", _rgb(32))
    _write(kvasir / "masks" / "cju0.jpg", _block(32, slice(5, 20), slice(5, 25)))
    with pytest.warns(UserWarning, match="1 of 1 masks had more than two grey levels"):
        data = load_folder(kvasir, "kvasir", 32)  # JPEG masks carry compression noise
    assert abs(data.masks.sum().item() - 15 * 20) <= 20


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="data folder not found: .*missing"):
        load_folder(tmp_path / "missing")
    (tmp_path / "nomasks" / "images").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no folder named 'masks' \\(layout 'generic'"):
        load_folder(tmp_path / "nomasks")
    (tmp_path / "empty" / "images").mkdir(parents=True)
    (tmp_path / "empty" / "masks").mkdir()
    with pytest.raises(FileNotFoundError, match="empty: no image files"):
        load_folder(tmp_path / "empty")
    (tmp_path / "jsrt" / "images").mkdir(parents=True)
    (tmp_path / "jsrt" / "masks" / "left lung").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no folder named 'masks/right lung' or 'masks/right_lung'"):
        load_folder(tmp_path / "jsrt", "jsrt")


def test_unmatched_stems_are_named(tmp_path):
    root = _make_generic(tmp_path / "lonely")
    (root / "masks" / "case0.png").unlink()
    with pytest.raises(ValueError, match=r"1 image\(s\) without a mask, e.g. \['case0'\]"):
        load_folder(root)
    root = _make_generic(tmp_path / "extra")
    _write(root / "masks" / "ghost.png", _block(20))
    with pytest.raises(ValueError, match=r"1 mask\(s\) without an image, e.g. \['ghost'\]"):
        load_folder(root)


def test_unreadable_files_and_bad_arguments(tmp_path):
    root = _make_generic(tmp_path / "corrupt")
    (root / "images" / "case1.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="cannot read image file .*images/case1.png"):
        load_folder(root)
    root = _make_generic(tmp_path / "corrupt_mask")
    (root / "masks" / "case2.png").write_bytes(b"\x89PNG truncated")
    with pytest.raises(ValueError, match="cannot read image file .*masks/case2.png"):
        load_folder(root, size=16)
    with pytest.raises(ValueError, match="unknown layout 'nih'; known layouts: generic, isic2018"):
        load_folder(root, layout="nih")
    with pytest.raises(ValueError, match="channels must be 1, 3 or None, got 2"):
        load_folder(root, channels=2)
    with pytest.raises(ValueError, match="size must be a positive int or \\(H, W\\), got 0"):
        load_folder(root, size=0)
    isic = tmp_path / "isic"
    (isic / "A_Input").mkdir(parents=True)
    (isic / "B_Input").mkdir()
    with pytest.raises(ValueError, match="several folders end in '_Input'"):
        load_folder(isic, "isic2018")


def test_layouts_describe_themselves():
    assert set(LAYOUTS) == {"generic", "isic2018", "ph2", "jsrt", "montgomery", "kvasir"}
    assert all(layout.description for layout in LAYOUTS.values())
