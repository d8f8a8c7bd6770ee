"""Shared fixtures: a small synthetic Data First population generated once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("BOLD_PSEUDONYM_KEY", "test-only-pseudonym-key-not-secret")

SMALL_PERSONS = 2000
SEED = 7


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory) -> Path:
    """A synthetic population of 2,000 persons (seed 7): ``extracts/``, ``truth/`` and ``manifest.json``."""
    from bold_prevention.synth import generate

    out = tmp_path_factory.mktemp("synth") / "population"
    generate(out, persons=SMALL_PERSONS, seed=SEED)
    return out
