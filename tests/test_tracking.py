"""Per-step records: steps.jsonl, TensorBoard events, run_info.json, the figures."""

import json

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from e2eaug import jobs
from e2eaug.engines import E2EAugEngine
from e2eaug.plots import smooth
from e2eaug.run_config import read_run_config
from e2eaug.rundir import RunDir
from e2eaug.samples import outline, overlay
from tests.core_helpers import tiny_config


def _events(run: RunDir) -> EventAccumulator:
    events = EventAccumulator(str(run.path), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    return events


def _scalar_steps(events: EventAccumulator, tag: str):
    return [e.step for e in events.Scalars(tag)]


def test_every_step_is_recorded_in_steps_jsonl_and_tensorboard(tmp_path):
    run, _ = jobs.train(tiny_config(["name=tiny"], out_dir=str(tmp_path)))
    steps = run.read_steps()
    assert [s["step"] for s in steps] == [1, 2, 3, 4]
    for record in steps:
        assert set(record["loss"]) == {"aug", "seg", "arch"}  # unroll 1: every level steps each step
        assert record["lr"]["seg"] == pytest.approx(1e-3)
        alpha = torch.tensor(record["arch"]["alpha"])
        assert alpha.shape == (4, 3) and torch.allclose(alpha.sum(1), torch.ones(4), atol=1e-4)
        assert "disc" in record["aug"]

    events = _events(run)
    assert _scalar_steps(events, "loss/seg") == [1, 2, 3, 4]
    assert [e.value for e in events.Scalars("loss/seg")] == pytest.approx([s["loss"]["seg"] for s in steps])
    assert "aug/disc" in events.Tags()["scalars"] and "lr/arch" in events.Tags()["scalars"]
    assert "arch/alpha/cell3/op2" in events.Tags()["scalars"]
    metrics = run.read_metrics()
    assert [e.step for e in events.Scalars("val/dice")] == [r["step"] for r in metrics]
    assert [e.value for e in events.Scalars("val/dice")] == pytest.approx([r["val_dice"] for r in metrics])
    assert [e.step for e in events.Images("samples")] == [2, 4]
    for name in ("curves.png", "alpha.png", "samples.png"):
        assert (run.path / name).stat().st_size > 0, name


def test_run_info_records_versions_device_and_command(tmp_path):
    run, _ = jobs.train(tiny_config(["name=tiny", "engine.tensorboard=false"], out_dir=str(tmp_path)))
    (session,) = json.loads(run.info_path.read_text())["sessions"]
    assert session["versions"]["torch"] == torch.__version__
    assert session["versions"]["e2eaug"] and session["versions"]["betty-ml"]
    assert session["device"] == "cpu" and session["device_name"]
    assert session["start_step"] == 0 and isinstance(session["command"], list)
    assert not list(run.path.glob("events.out.tfevents.*"))  # the switch turns TensorBoard off
    assert [s["step"] for s in run.read_steps()] == [1, 2, 3, 4]


def test_resume_after_a_kill_keeps_one_record_per_step(tmp_path, monkeypatch):
    """Killed in step 4 (last checkpoint at 2): the resumed run re-does step 3, and neither
    steps.jsonl nor TensorBoard shows the first attempt."""
    train_step = E2EAugEngine._checked_train_step

    def killed_in_4(self):
        if self.global_step == 4:
            raise KeyboardInterrupt
        train_step(self)

    monkeypatch.setattr(E2EAugEngine, "_checked_train_step", killed_in_4)
    with pytest.raises(KeyboardInterrupt):
        jobs.train(tiny_config(["name=tiny"], out_dir=str(tmp_path)))
    (path,) = tmp_path.glob("tiny-*")
    run = RunDir(path)
    assert 3 in _scalar_steps(_events(run), "loss/seg")  # the killed session's step-3 event
    monkeypatch.setattr(E2EAugEngine, "_checked_train_step", train_step)

    jobs.train(read_run_config(run), run, resume=True)
    steps = run.read_steps()
    assert [s["step"] for s in steps] == [1, 2, 3, 4]
    events = _events(run)
    assert _scalar_steps(events, "loss/seg") == [1, 2, 3, 4]
    assert events.Scalars("loss/seg")[2].value == pytest.approx(steps[2]["loss"]["seg"])
    sessions = json.loads(run.info_path.read_text())["sessions"]
    assert [s["start_step"] for s in sessions] == [0, 2]


def test_smooth_debiases_and_skips_nan():
    assert smooth([2.0, 2.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0])
    out = smooth([1.0, float("nan"), 3.0], weight=0.5)
    assert out[0] == pytest.approx(1.0) and out[1] == pytest.approx(1.0)
    assert 1.0 < out[2] < 3.0


def test_overlay_tints_the_prediction_and_outlines_the_reference():
    masks = torch.zeros(1, 1, 8, 8)
    masks[..., 2:6, 2:6] = 1
    edge = outline(masks)
    assert edge.sum() == 12 and edge[0, 0, 3, 3] == 0 and edge[0, 0, 2, 2] == 1
    image = torch.full((1, 1, 8, 8), 0.5)
    out = overlay(image, masks, masks)
    assert out.shape == (1, 3, 8, 8)
    assert out[0, :, 3, 3].tolist() == pytest.approx([0.725, 0.365, 0.365])  # red tint inside
    assert out[0, :, 2, 2].tolist() == pytest.approx([0.1, 1.0, 0.1])  # green outline
    assert out[0, :, 0, 0].tolist() == pytest.approx([0.5, 0.5, 0.5])  # untouched outside


def test_tensorboard_holds_the_config_its_hyperparameters_and_the_test_scores(tmp_path):
    run, _ = jobs.train(tiny_config(["name=tiny"], out_dir=str(tmp_path)))
    results = jobs.evaluate(run)
    events = _events(run)
    text = events.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "augmenter:" in text and "    name: tiny" in text
    assert set(events.PluginTagToContent("hparams")) >= {"_hparams_/experiment", "_hparams_/session_start_info"}
    start = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    assert b"augmenter.name" in start and b"seg.hypergrad.type" in start
    dice = events.Scalars("test/ood/dice")
    assert [e.step for e in dice] == [results["step"]]
    assert dice[0].value == pytest.approx(results["tests"]["ood"]["dice"])
    assert "test/id/hd95" in events.Tags()["scalars"]


def test_alpha_figure_names_each_cells_side_and_operators():
    from e2eaug.models.search_space import DOWN_OPS, UP_OPS
    from e2eaug.plots import cell_labels

    labels = cell_labels(6, 3)
    assert [title for title, _ in labels] == ["down cell 0 (outermost)", "down cell 1", "down cell 2",
                                              "up cell 0 (innermost)", "up cell 1", "up cell 2"]
    assert labels[0][1] == list(DOWN_OPS) and labels[5][1] == list(UP_OPS) and "conv_6_2_2" in DOWN_OPS
    assert cell_labels(3, 2) == [(f"cell {i}", ["op 0", "op 1"]) for i in range(3)]  # not the search space's shape
