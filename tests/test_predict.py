"""``e2eaug predict``: a mask and an overlay per new image, at the image's own size."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from e2eaug.cli import main
from e2eaug.jobs import load_run
from e2eaug.problems import names


def test_predict_writes_masks_at_each_images_size(tiny_run, tmp_path, capsys):
    rng = np.random.default_rng(0)
    folder = tmp_path / "new"
    folder.mkdir()
    files = {
        "same": (rng.random((16, 16, 3)) * 255).astype(np.uint8),  # the training size
        "wide": (rng.random((24, 40, 3)) * 255).astype(np.uint8),
        "grey": (rng.random((13, 17)) * 255).astype(np.uint8),
        "deep": (rng.random((20, 12)) * 4095).astype(np.uint16),  # 12-bit values in a 16-bit file
    }
    for stem, pixels in files.items():
        Image.fromarray(pixels).save(folder / f"{stem}.png")
    (folder / "notes.txt").write_text("not an image")
    out = tmp_path / "pred"
    assert main(["predict", "--run", str(tiny_run.path), "--images", str(folder), "--out", str(out)]) == 0
    assert "wrote 4 masks" in capsys.readouterr().out
    for stem, pixels in files.items():
        mask = np.asarray(Image.open(out / "masks" / f"{stem}.png"))
        shown = Image.open(out / "overlays" / f"{stem}.png")
        assert mask.shape == pixels.shape[:2] and set(np.unique(mask)) <= {0, 255}
        assert shown.size == (pixels.shape[1], pixels.shape[0]) and shown.mode == "RGB"

    # at the training size the mask is the segmenter's own thresholded output
    _, engine, data = load_run(tiny_run, "best")
    image = torch.from_numpy(files["same"]).permute(2, 0, 1)[None].float() / 255
    if data.channels == 1:
        image = (image * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    with torch.no_grad():
        prob = torch.sigmoid(getattr(engine, names.SEG).module.eval()(image))[0, 0].numpy()
    mask = np.asarray(Image.open(out / "masks" / "same.png")) > 0
    clear = np.abs(prob - 0.5) > 1e-4  # pixels no float rounding of another batch size can flip
    assert np.array_equal(mask[clear], (prob > 0.5)[clear])


def test_bad_image_folders_are_one_line(tiny_run, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.png").write_bytes(b"not a png")
    cases = {"nowhere": "image folder not found", "empty": "no image files", "broken": "cannot read image file"}
    for name, expected in cases.items():
        capsys.readouterr()
        args = ["predict", "--run", str(tiny_run.path), "--images", str(tmp_path / name), "--out", str(tmp_path / "o")]
        assert main(args) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and expected in err[0] and name in err[0], err
    assert not (tmp_path / "o").exists()


def test_overlay_tints_the_mask_and_draws_its_outline():
    from e2eaug.predict import TINT, overlay

    image = np.full((8, 8, 3), 100, np.uint8)
    mask = np.zeros((8, 8), bool)
    mask[2:6, 2:6] = True
    shown = overlay(image, mask)
    assert (shown[~mask] == 100).all()  # outside: unchanged
    assert (shown[2, 2:6] == TINT).all() and (shown[3, 2] == TINT).all()  # outline
    assert not (shown[3:5, 3:5] == 100).any() and not (shown[3:5, 3:5] == TINT).all()  # tinted inside
