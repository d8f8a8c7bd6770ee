"""The pipeline's ``waves`` stage: Wave 1-2 sources found in ``<extracts>/waves`` are loaded, linked to the spine, and
their outcomes built; a Spark run whose extracts hold them is refused before anything runs."""

from __future__ import annotations

import dataclasses

import duckdb
import pytest

from bold_prevention.errors import InputError
from bold_prevention.pipeline import PipelineConfig, run_pipeline
from bold_prevention.project import Project

SOURCES = ("dwp",)


@pytest.fixture(scope="module")
def population(tmp_path_factory):
    from bold_prevention.synth import generate

    pop = tmp_path_factory.mktemp("waves-pop") / "pop"
    generate(pop, persons=1000, seed=7, sources=SOURCES)
    return pop


def test_wave_sources_present_are_linked_and_their_outcomes_built(population, tmp_path):
    cfg = PipelineConfig(extracts=population, truth=population / "truth")
    proj = Project(tmp_path / "p")
    res = run_pipeline(cfg, "load,spine,waves", project=proj, command="test")
    waves = res.stage("waves").detail
    assert waves["sources"] == list(SOURCES)
    assert sum(res.figures["wave_linked_by_band"]["dwp"].values()) > 0
    assert res.figures["la_residents"] > 0  # the local-authority file too
    con = duckdb.connect(str(proj.warehouse_path), read_only=True)
    try:
        linked = con.execute("select count(*) from spine.person_record where source_table = 'dwp_customers'"
                             ).fetchone()[0]
        outcomes = con.execute("select count(*) from spine.person_outcome").fetchone()[0]
    finally:
        con.close()
    assert linked > 0 and outcomes == waves["outcome_rows"] > 0


def test_a_spark_run_with_wave_sources_is_refused_before_it_starts(population, tmp_path):
    cfg = dataclasses.replace(PipelineConfig(extracts=population), engine="spark")
    proj = Project(tmp_path / "p")
    with pytest.raises(InputError, match="waves stage cannot run on Spark") as err:
        run_pipeline(cfg, "load,spine,waves", project=proj)
    assert "dwp" in err.value.message and "engine: duckdb" in err.value.hint
    assert not proj.root.exists()
