"""Planning Step A: use cases from a question to a feasibility plan and a release, and the cost of a run.

- :mod:`.usecase`: propose drivers, outcomes, measures and candidate variables from a use-case question; the
  use-case file (plain YAML, validated).
- :mod:`.plan`: each measure's coverage, missingness, link rate and band mix, register changes and wave needs,
  measured on the loaded project.
- :mod:`.run`: build the use case's cohort and publish its measures and outcomes as one checked release.
- :mod:`.sensitivity`: cohorts and place prevalence at the three linkage bands, side by side in one release.
"""

from .plan import Plan, plan
from .run import UseCaseRun, run_use_case
from .sensitivity import SensitivityResult, band_sensitivity
from .usecase import Proposal, UseCaseSchema, load_use_case, propose, write_use_case

__all__ = ["Plan", "Proposal", "SensitivityResult", "band_sensitivity", "UseCaseRun", "UseCaseSchema", "load_use_case", "plan", "propose", "run_use_case",
           "write_use_case"]
