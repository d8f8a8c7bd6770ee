"""How many candidate pairs each blocking rule of a linkage model makes, before anything is scored.

Blocking decides the cost of a linkage job: every candidate pair is scored, and a rule whose blocks grow with the
population (a common name, a missing date of birth) makes pairs that grow with the square of the records. This
counts, rule by rule and in the order the model applies them, the pairs each rule adds to those of the rules
before it (Splink's ``count_comparisons_from_blocking_rules``, on the model's own backend), so a rule that would
swamp a national run is seen on a sample first.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import InputError
from .splink_model import LinkageModel

__all__ = ["PAIRS_PER_RECORD_LIMIT", "BlockingCount", "blocking_counts"]

#: A rule that adds more candidate pairs than this per input record is flagged: at a few million records its
#: blocks have usually outgrown the person (docs/national-scale-plan.md).
PAIRS_PER_RECORD_LIMIT = 20.0
#: Below this many pairs actually counted in the sample, a rule's estimate is rough (Splink's own threshold).
MIN_SAMPLED_PAIRS = 1_000


@dataclass(frozen=True)
class BlockingCount:
    """One blocking rule: the candidate pairs it adds (not already made by an earlier rule), the running total,
    and the pairs it adds per input record. With a sample the counts are Splink's estimates for all the
    records."""

    rule: str
    pairs: int
    cumulative: int
    pairs_per_record: float
    sample: float
    sampled_pairs: int

    @property
    def estimate(self) -> bool:
        return self.sample < 1

    @property
    def rough(self) -> bool:
        """An estimate from fewer than :data:`MIN_SAMPLED_PAIRS` counted pairs: take a larger sample."""
        return self.estimate and self.sampled_pairs < MIN_SAMPLED_PAIRS

    @property
    def too_broad(self) -> bool:
        return self.pairs_per_record > PAIRS_PER_RECORD_LIMIT

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "estimate": self.estimate, "rough": self.rough, "too_broad": self.too_broad}


def blocking_counts(model: LinkageModel, *, sample: float = 1.0) -> list[BlockingCount]:
    """The candidate pairs of each of ``model``'s prediction blocking rules.

    ``sample`` (0 < sample <= 1): the share of records taken on each side of each blocking join; below 1 the
    counts are estimates (Splink scales them up), which is how a rule is checked at millions of records.
    """
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    if not 0 < sample <= 1:
        raise InputError(f"the blocking sample must be above 0 and at most 1, not {sample}",
                         hint="for example 0.1 to count on a tenth of the records")
    rules = model.settings()["blocking_rules_to_generate_predictions"]
    data = model.sdfs if len(model.sdfs) > 1 else model.sdfs[0]
    records = model.records or 1
    with warnings.catch_warnings():  # Splink warns of rough estimates; ``rough`` says so per rule instead
        warnings.simplefilter("ignore", UserWarning)
        counted = count_comparisons_from_blocking_rules(data, blocking_rules=rules, link_type=model.link_type,
                                                        record_sample_proportion=sample)
    out = []
    for rec in counted:
        pairs = int(rec["marginal_comparison_count"])
        out.append(BlockingCount(rule=str(rec["blocking_rule"]), pairs=pairs,
                                 cumulative=int(rec["cumulative_comparison_count"]),
                                 pairs_per_record=round(pairs / records, 3), sample=sample,
                                 sampled_pairs=round(pairs * sample * sample)))
    return out
