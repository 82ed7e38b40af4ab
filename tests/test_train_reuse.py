"""A finished fold is reused only when its best checkpoint can be read (ecglib.train.fit)."""

import logging

from train_support import tiny_params, write_run

from ecglib.paths import RunPaths
from ecglib.train.checkpoint import load_checkpoint
from ecglib.train.fit import fit_fold


def test_a_finished_fold_with_an_unreadable_best_checkpoint_is_retrained_with_a_warning(
    tmp_path, caplog
):
    params = write_run(tmp_path, params=tiny_params(tmp_path, epochs=1))
    first = fit_fold(params, 0, progress=False)
    assert first.finished and not first.reused
    best = RunPaths.of(params).best_checkpoint(0)
    best.write_bytes(b"not a checkpoint")  # e.g. a copy cut short, a full disk
    with caplog.at_level(logging.WARNING, logger="ecglib.train.fit"):
        again = fit_fold(params, 0, progress=False)
    assert not again.reused and again.finished and again.resumed_after is None
    assert any(str(best) in w and "unreadable" in w for w in again.warnings)
    assert str(best) in caplog.text
    assert "state_dict" in load_checkpoint(best)  # rewritten, readable
    # the retrained fold starts from scratch: the same model as the first training
    assert again.oof.equals(first.oof)
    assert fit_fold(params, 0, progress=False).reused
