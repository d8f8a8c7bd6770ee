"""The one pipeline's configuration and stage registry: every key read or refused, stages checked before a run."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bold_prevention.errors import InputError
from bold_prevention.pipeline import STAGES, PipelineConfig, run_pipeline
from bold_prevention.pipeline import config as config_module
from bold_prevention.pipeline import stages as stages_module
from bold_prevention.pipeline.config import PipelineConfigSchema
from bold_prevention.pipeline.stages import ALIASES, BY_NAME, check_engine, choose
from bold_prevention.project import Project

NAMES = [s.name for s in STAGES]


def _config_reads() -> set[str]:
    """The PipelineConfig attributes the stages and the run read (``run.config.X``, ``cfg.X``, ``config.X``)."""
    found: set[str] = set()
    for mod in (stages_module, __import__("bold_prevention.pipeline.run", fromlist=["x"])):
        for node in ast.walk(ast.parse(inspect.getsource(mod))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, (ast.Name, ast.Attribute)):
                base = node.value.attr if isinstance(node.value, ast.Attribute) else node.value.id
                if base in ("config", "cfg"):
                    found.add(node.attr)
    return found


def test_every_key_of_the_config_file_is_read_by_the_pipeline():
    keys = {f.alias or name for name, f in PipelineConfigSchema.model_fields.items()}
    fields = set(PipelineConfig.__dataclass_fields__)
    assert keys == fields, "a config key with no PipelineConfig field would be dropped"
    # every field is read by a stage or by the run (the engine, spark_master and partitions by the run's warehouse)
    assert fields - _config_reads() == set()


@pytest.mark.parametrize("text, key", [("spark_master: local[2]\n", "spark_master"), ("partitions: 4\n", "partitions"),
                                       ("engine: spark\npartitions: 0\n", "partitions"),
                                       ("link_chunks: 0\n", "link_chunks"),
                                       ("link_chunks: 2\nlink_incremental: true\n", "link_chunks"),
                                       ("engine: flink\n", "engine"), ("band: best\n", "band"),
                                       ("register: nowhere.yaml\n", "register"), ("colour: blue\n", "colour")])
def test_a_key_that_cannot_apply_is_refused_naming_it(tmp_path, text, key):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"extracts: {tmp_path}\n" + text)
    with pytest.raises(InputError) as err:
        PipelineConfig.from_yaml(cfg)
    assert key in err.value.message
    assert err.value.hint


def test_relative_paths_are_read_from_the_config_folder(tmp_path):
    (tmp_path / "ex").mkdir()
    (tmp_path / "reg.yaml").write_text("x: 1\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("extracts: ex\nregister: reg.yaml\nlink_model: m.json\nengine: spark\nspark_master: local[2]\n"
                   "partitions: 2\ncohorts: [possession_claim]\n")
    c = PipelineConfig.from_yaml(cfg)
    assert c.extracts == tmp_path / "ex" and c.register == tmp_path / "reg.yaml"
    assert c.link_model == tmp_path / "m.json"
    assert (c.engine, c.spark_master, c.partitions, c.cohorts) == ("spark", "local[2]", 2, ["possession_claim"])


@given(st.lists(st.sampled_from(NAMES + list(ALIASES)), min_size=1, unique=True))
def test_stages_run_in_the_registry_order_whatever_order_they_are_asked_in(asked):
    chosen = choose(asked)
    assert chosen == [n for n in NAMES if n in {ALIASES.get(a, a) for a in asked}]
    assert choose(",".join(reversed(asked))) == chosen


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_", min_size=1, max_size=12))
def test_an_unknown_stage_is_refused(name):
    if name in BY_NAME or name in ALIASES:
        return
    with pytest.raises(InputError, match="unknown pipeline stage"):
        choose([name, "spine"])


def test_stages_that_cannot_run_on_spark_are_refused_before_the_run():
    for st_ in STAGES:
        if st_.spark:
            check_engine([st_.name], "spark")
        else:
            with pytest.raises(InputError, match=f"the {st_.name} stage cannot run on Spark"):
                check_engine([st_.name], "spark")


def test_a_bad_stage_or_engine_leaves_the_project_untouched(tmp_path):
    proj = Project(tmp_path / "p")
    with pytest.raises(InputError, match="unknown pipeline stage"):
        run_pipeline(PipelineConfig(), "spine,bogus", project=proj)
    with pytest.raises(InputError, match="spark_master"):
        run_pipeline(PipelineConfig(spark_master="local[2]", engine="spark"), "spine", "duckdb", project=proj)
    assert not proj.root.exists()


def test_a_run_that_writes_person_ids_without_the_key_is_refused_before_any_stage(tmp_path, monkeypatch):
    monkeypatch.delenv("BOLD_PSEUDONYM_KEY", raising=False)
    proj = Project(tmp_path / "p")
    with pytest.raises(InputError, match="BOLD_PSEUDONYM_KEY"):
        run_pipeline(PipelineConfig(), "load,spine", project=proj)
    assert not proj.root.exists()  # nothing loaded first


def test_the_load_stage_needs_extracts(tmp_path):
    with pytest.raises(InputError, match="load stage needs the folder of extracts"):
        run_pipeline(PipelineConfig(), "load", project=Project(tmp_path / "p"))


def test_a_release_with_nothing_to_publish_is_refused(tmp_path):
    with pytest.raises(InputError, match="nothing to publish"):
        run_pipeline(PipelineConfig(), "release", project=Project(tmp_path / "p"))
    assert not (tmp_path / "p" / "outputs" / "releases").exists()


def test_the_config_module_documents_every_key():
    doc = config_module.__doc__
    for key in PipelineConfigSchema.model_fields:
        alias = PipelineConfigSchema.model_fields[key].alias or key
        assert f"{alias}:" in doc, alias
    assert Path(config_module.__file__).exists()


def test_the_demo_without_the_key_is_refused_before_it_makes_a_population(tmp_path, monkeypatch):
    from bold_prevention.pipeline.demo import run_demo

    monkeypatch.delenv("BOLD_PSEUDONYM_KEY", raising=False)
    with pytest.raises(InputError, match="BOLD_PSEUDONYM_KEY"):
        run_demo(tmp_path / "demo")
    assert not (tmp_path / "demo").exists()
