"""One pipeline: the stage registry and :func:`run_pipeline`, behind ``bold demo`` and ``bold scale run``."""

from .config import PipelineConfig
from .demo import run_demo, run_from_config
from .run import PipelineResult, StageResult, run_pipeline
from .stages import DEFAULT_COHORTS, STAGES, Stage

__all__ = ["DEFAULT_COHORTS", "STAGES", "PipelineConfig", "PipelineResult", "Stage", "StageResult", "run_demo",
           "run_from_config", "run_pipeline"]
