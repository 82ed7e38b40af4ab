"""Project-wide pytest configuration.

Notebook tests (``pytest --nbval-lax``) run every notebook with the tiny parameters of
``params/ci.yaml``: the kernels inherit ``ECGLIB_PARAMS`` and ``ecglib.config.load_params``
announces the override in the notebook's output.
"""
import os

from ecglib.config import PARAMS_ENV


def pytest_configure(config):
    if config.getoption("nbval_lax", default=False) or config.getoption("nbval", default=False):
        os.environ.setdefault(PARAMS_ENV, "params/ci.yaml")
