"""Project-wide pytest configuration.

Notebook tests (``pytest --nbval-lax``) run every notebook with the tiny parameters of
``params/ci.yaml``: the kernels inherit ``ECGLIB_PARAMS`` and the notebooks' set-up call
(``ecglib.chapters.setup``) reads that file instead, and says so in the notebook's output.

nbval executes ``02_train_fold.ipynb`` once, with its default ``fold = 0``, but the evaluation
chapters need every fold's out-of-fold predictions. So before the notebooks run, the ci run's
data and every fold are prepared here with the same library calls the pipeline makes; the
notebooks then reuse them (a finished fold with the same params is not retrained). The run's
variants (params/ci.yaml's ``variants:``) are trained too, so that the ablation chapter is
tested on real finished variants.
"""
import os

from ecglib.chapters.page import PARAMS_ENV

CI_PARAMS = "params/ci.yaml"


def _nbval(config) -> bool:
    return bool(config.getoption("nbval_lax", default=False) or config.getoption("nbval", default=False))


def pytest_configure(config):
    if _nbval(config):
        os.environ.setdefault(PARAMS_ENV, CI_PARAMS)


def pytest_collection_finish(session):
    notebooks = [item for item in session.items if str(item.fspath).endswith(".ipynb")]
    if not notebooks or not _nbval(session.config):
        return
    from ecglib.config import load_params
    from ecglib.data.prepare import prepare_data
    from ecglib.train.fit import fit_fold
    from ecglib.train.variants import fit_variants

    params = load_params(os.environ[PARAMS_ENV])
    print(
        f"\npreparing the notebooks' run {params.name!r}: data, {params.folds.n_folds} folds "
        f"and {len(params.variants)} variants"
    )
    prepare_data(params, progress=False)
    for fold in range(params.folds.n_folds):
        fit_fold(params, fold, progress=False)
    fit_variants(params, progress=False)
