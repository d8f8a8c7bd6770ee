"""Small synthetic populations load: a tick-box item (YES or blank) that nobody in a small extract ticked is an
answer, not an empty required column, so `bold demo --persons 500` and up do not depend on the seed. (An empty
required column that is not a tick box still fails: tests/test_readers_fuzz.py.)"""

from __future__ import annotations

import pytest

from bold_prevention.project import Project
from bold_prevention.synth import generate
from bold_prevention.warehouse.load import load_extracts


@pytest.mark.parametrize("persons,seed", [(500, 3), (600, 42), (700, 5)])
def test_small_population_loads_complete(tmp_path, persons, seed):
    pop = tmp_path / "pop"
    generate(pop, persons=persons, seed=seed)
    res = load_extracts(Project.at(tmp_path / "project").ensure(), pop / "extracts", write_report=False)
    assert res.status == "complete"
    assert not [c for c in res.checks if c.check == "empty_column" and c.status == "fail"]

