"""Blocking: the rules that choose the candidate pairs a linkage model scores, and how many pairs each makes.

The rules come from the identifier roles present and the size of the job (:func:`blocking_rules_for`; broader
rules for small jobs, tightened rules for jobs of millions), and the training sessions from the same roles
(:func:`_training_rules`); :mod:`.splink_model` builds a model's settings from them.

How many candidate pairs each blocking rule of a linkage model makes, before anything is scored:

Blocking decides the cost of a linkage job: every candidate pair is scored, and a rule whose blocks grow with the
population (a common name, a missing date of birth) makes pairs that grow with the square of the records. This
counts, rule by rule and in the order the model applies them, the pairs each rule adds to those of the rules
before it (Splink's ``count_comparisons_from_blocking_rules``, on the model's own backend), so a rule that would
swamp a national run is seen on a sample first.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from splink import block_on

from ..errors import InputError

if TYPE_CHECKING:
    from .splink_model import LinkageModel

__all__ = [
    "BROAD_BLOCKING_MAX_RECORDS",
    "LARGE_BLOCKING_MIN_RECORDS",
    "PAIRS_PER_RECORD_LIMIT",
    "ROLE_COLUMNS",
    "BlockingCount",
    "blocking_counts",
    "blocking_rules_for",
    "prediction_blocking",
]

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


# ---------------------------------------------------------------------------------------------- rules
#: Candidate blocking rules for prediction: (roles needed, rule[, the rule for large jobs]). Rules are equality
#: joins (cheap on any engine). The third element, for the rules whose pairs grow with the square of the records,
#: is the rule that replaces it in jobs of over :data:`LARGE_BLOCKING_MIN_RECORDS` records: the same keys and one
#: more, as (roles needed, rule); a large job drops the rule when that further role is missing.
_BLOCKING: tuple[tuple[Any, ...], ...] = (
    (("date_of_birth", "surname"), lambda: block_on("dob_iso", "surname_phonetic")),
    (("date_of_birth", "forename"), lambda: block_on("dob_iso", "forename_phonetic")),
    (("forename", "surname"), lambda: block_on("forename_canonical", "surname_nospace", "dob_year"),
     (("forename", "surname", "postcode"),
      lambda: block_on("forename_canonical", "surname_nospace", "dob_year", "postcode_area"))),
    (("forename", "surname", "postcode"), lambda: block_on("forename_phonetic", "surname_phonetic",
                                                           "postcode_sector")),
    (("date_of_birth", "postcode"), lambda: block_on("postcode", "dob_year")),
    (("date_of_birth", "surname"), lambda: "l.dob_iso = r.dob_swapped and l.surname_phonetic = r.surname_phonetic"),
    (("date_of_birth", "surname"), lambda: "l.dob_swapped = r.dob_iso and l.surname_phonetic = r.surname_phonetic"),
    (("date_of_birth", "forename", "surname"), lambda: block_on("dob_year", "dob_day", "surname_phonetic"),
     (("date_of_birth", "forename", "surname"),
      lambda: block_on("dob_year", "dob_day", "surname_phonetic", "forename_phonetic"))),
    # same name where one date of birth is missing (one rule per side, so the engine filters before joining)
    (("forename", "surname", "date_of_birth"), lambda: _missing_dob_rule("l"),
     (("forename", "surname", "date_of_birth", "postcode"), lambda: _missing_dob_rule("l", "postcode_outward"))),
    (("forename", "surname", "date_of_birth"), lambda: _missing_dob_rule("r"),
     (("forename", "surname", "date_of_birth", "postcode"), lambda: _missing_dob_rule("r", "postcode_outward"))),
    (("forename", "postcode"), lambda: block_on("forename_canonical", "postcode")),
    (("id_number",), lambda: block_on("id_number")),
    (("address", "postcode"), lambda: block_on("address_number", "postcode")),
    (("address", "date_of_birth"), lambda: block_on("dob_iso", "address_number")),
    (("town", "date_of_birth"), lambda: block_on("dob_iso", "town")),
    (("address", "town"), lambda: block_on("address_number", "town", "surname_phonetic")),
    (("surname", "postcode"), lambda: block_on("surname_phonetic", "postcode")),
)
#: Rules used when few identifiers are present (fallback): these can be large; the forename+surname rule above
#: is restricted by year of birth when a date of birth exists.
_BLOCKING_WITHOUT_DOB: tuple[tuple[tuple[str, ...], Any], ...] = (
    (("forename", "surname"), lambda: block_on("forename_canonical", "surname_nospace")),
    (("forename", "surname"), lambda: block_on("forename_phonetic", "surname_phonetic")),
    (("surname", "postcode"), lambda: block_on("surname", "postcode_sector")),
    (("forename", "postcode"), lambda: block_on("forename_canonical", "postcode")),
    (("surname",), lambda: block_on("surname")),
    (("date_of_birth",), lambda: block_on("dob_iso")),
    (("postcode",), lambda: block_on("postcode")),
)


#: Up to this many records in all, the broad rules of :data:`_BLOCKING_BROAD` are added (their pairs grow with the
#: square of the input: a few million at 250,000 records, hundreds of millions at a few million).
BROAD_BLOCKING_MAX_RECORDS = 250_000
#: Broad rules for smaller jobs: the same name whatever the date of birth, or the same date of birth whatever the
#: name (they find records where both a name and the date of birth were miskeyed elsewhere).
_BLOCKING_BROAD: tuple[tuple[tuple[str, ...], Any], ...] = (
    (("forename", "surname"), lambda: block_on("forename_canonical", "surname_nospace")),
    (("forename", "surname"), lambda: block_on("forename_phonetic", "surname_phonetic")),
    (("date_of_birth",), lambda: block_on("dob_iso")),
)


def _missing_dob_rule(side: str, *also: str) -> str:
    cond = " and ".join(f"l.{c} = r.{c}" for c in ("forename_canonical", "surname_nospace", *also))
    return f"{cond} and {side}.dob_iso is null"


#: Above this many records in all, the large-job rules of :data:`_BLOCKING` replace the rules whose blocks grow
#: with the population (a name with a birth year, a missing date of birth): their pairs grow with the square of the
#: records, 25 times from 1M to 5M records, and would be most of a national run's. On the synthetic population of
#: 1.06M records the tightened rules kept 37% fewer pairs and raised pairwise F1 at the medium band from 0.943 to
#: 0.968 (recall 0.986 to 0.983), with the high band unchanged (docs/national-scale-plan.md).
LARGE_BLOCKING_MIN_RECORDS = 1_000_000


def blocking_rules_for(roles: Sequence[str], records: int | None = None, extras: Sequence[Any] = ()) -> list:
    """Blocking rules for prediction from the roles present: for jobs of at most
    :data:`BROAD_BLOCKING_MAX_RECORDS` records in all, broader rules that raise recall are added; above
    :data:`LARGE_BLOCKING_MIN_RECORDS`, the rules whose pairs grow with the square of the records are tightened
    (and dropped when the further key's role is missing)."""
    present = set(roles)
    large = records is not None and records > LARGE_BLOCKING_MIN_RECORDS
    rules = []
    for need, make, *for_large in _BLOCKING:
        if large and for_large:
            need, make = for_large[0]
        if set(need) <= present:
            rules.append(make())
    if "date_of_birth" not in present or len(rules) < 2:
        rules += [make() for need, make in _BLOCKING_WITHOUT_DOB if set(need) <= present]
    if records is not None and records <= BROAD_BLOCKING_MAX_RECORDS:
        rules += [make() for need, make in _BLOCKING_BROAD if set(need) <= present]
    if extras:
        from .comparisons import blocking_rules as extra_rules

        rules += extra_rules(extras)
    if not rules:
        raise InputError(f"no blocking rule can be built from the identifiers {sorted(present)}",
                         hint="map at least two of forename, surname, date_of_birth and postcode")
    return rules


def prediction_blocking(roles: Sequence[str], records: int, extras: Sequence[Any] = ()) -> list[dict[str, str]]:
    """:func:`blocking_rules_for` as the DuckDB-dialect dicts of a model's settings: blocking is not part of the
    fitted model, so a saved model is given the rules for the size of the job it scores."""
    return [(r.get_blocking_rule("duckdb").as_dict() if hasattr(r, "get_blocking_rule")
             else {"blocking_rule": r, "sql_dialect": "duckdb"}) for r in blocking_rules_for(roles, records, extras)]


#: Standard columns each role's comparison reads (a training session blocked on one of them cannot estimate it).
ROLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "forename": ("forename", "forename_canonical", "forename_phonetic", "middle_first", "forename_prefix",
                 "forename_initial", "forename_letter"),
    "middle_names": ("middle_names", "middle_first"),
    "surname": ("surname", "surname_nospace", "surname_phonetic", "surname_first", "surname_last", "surname_prefix"),
    "date_of_birth": ("dob", "dob_iso", "dob_swapped", "dob_year", "dob_month", "dob_day", "dob_decade",
                      "dob_decade_shifted"),
    "sex": ("sex",), "postcode": ("postcode", "postcode_sector", "postcode_outward"),
    "address": ("address", "address_number"), "town": ("town",), "id_number": ("id_number",),
}
#: Keys a training session may block on to estimate the other comparisons, strongest first.
_COVER_KEYS: tuple[tuple[str, str], ...] = (
    ("id_number", "id_number"), ("date_of_birth", "dob_iso"), ("surname", "surname_nospace"),
    ("forename", "forename_canonical"), ("postcode", "postcode"), ("address", "address"), ("town", "town"),
)


def _training_rules(roles: Sequence[str], extras: Sequence[Any] = ()) -> tuple[list, list[list]]:
    """(deterministic rules for the prior, EM sessions: each a list of alternative blocking rules, the first that
    yields pairs being used).

    Every session leaves at least one comparison free to estimate, and every comparison is free in at least one
    session: a thin config (names only, say) gets sessions blocked on one name to estimate the other.
    """
    from .splink_model import COMPARISON_ROLES

    p = set(roles)
    det: list = []
    if {"forename", "surname", "date_of_birth"} <= p:
        det.append(block_on("forename", "surname", "dob_iso"))
    if {"surname", "date_of_birth", "postcode"} <= p:
        det.append(block_on("surname", "dob_iso", "postcode"))
    if "id_number" in p:
        det.append(block_on("id_number"))
    if not det:
        keys = [{"forename": "forename", "surname": "surname", "postcode": "postcode", "date_of_birth": "dob_iso"}[r]
                for r in ("forename", "surname", "postcode", "date_of_birth") if r in p]
        keys += [x.column if x.type != "geography" else f"{x.column}_0" for x in extras if x.blocks]
        cover = _cover_key(sorted(p))
        if not keys and cover is None:
            raise InputError(f"too few identifiers to separate people: nothing to block candidate pairs on among "
                             f"{', '.join(sorted(p)) or 'no identifiers'}",
                             hint="map at least one of forename, surname, date_of_birth, postcode or id_number on "
                                  "every file (better two), or declare an extra comparison that blocks")
        det = [block_on(*keys)] if keys else [block_on(cover[1])]
    sessions: list[list[tuple[str, ...]]] = []
    # Names first: that session estimates the date-of-birth levels from fresh starting values (started from the
    # values a date-of-birth session leaves behind, it can settle on a household-like optimum).
    # Same name in the same postcode sector, where most pairs are the same person, is a cleaner session than the
    # same name anywhere, where people sharing a common name outnumber the matches and EM mixes them up.
    if {"forename", "surname"} <= p:
        alts = [("forename_canonical", "surname_nospace", "postcode_sector")] if "postcode" in p else []
        sessions.append(alts + [("forename_canonical", "surname_nospace")])
    if "date_of_birth" in p:
        sessions.append([("dob_iso",)])
    # Not postcode alone: pairs sharing an address are mostly other members of a household, and EM would learn
    # "same household" instead of "same person".
    if "id_number" in p:
        sessions.append([("id_number",)])

    def free(keys: tuple[str, ...]) -> set[str]:
        return {r for r in p if not set(keys) & set(ROLE_COLUMNS.get(r, ()))}

    # a session whose keys cover every compared role has nothing to estimate (Splink would write empty SQL)
    sessions = [alts for alts in ([a for a in alts if free(a) or extras] for alts in sessions) if alts]
    covered = set().union(*(free(a) for alts in sessions for a in alts)) if sessions else set()
    for role in sorted(p - covered - {"sex"}, key=COMPARISON_ROLES.index):
        others = [r for r in p if r != role]
        key = _cover_key(others)
        if key is not None and (key[1],) not in [a for alts in sessions for a in alts]:
            sessions.append([(key[1],)])
    if not sessions:
        key = _cover_key(sorted(p))
        sessions = [[(key[1],)]] if key else []
    sessions = _drop_redundant_sessions(sessions, free, bool(extras))
    return det, [[block_on(*a) for a in alts] for alts in sessions]


def _drop_redundant_sessions(sessions: list[list[tuple[str, ...]]], free: Callable[[tuple[str, ...]], set[str]],
                             extras: bool) -> list[list[tuple[str, ...]]]:
    """Sessions without one whose every estimable comparison an earlier session already estimates, whichever of
    its alternative rules that session ends up using (e.g. the id-number session after the name and date-of-birth
    sessions: each costs a pass over up to ``em_max_pairs`` pairs, a fixed cost that dominates small files). With
    extra comparisons nothing is dropped (their columns are not among the roles' and may need any session)."""
    if extras:
        return sessions
    kept: list[list[tuple[str, ...]]] = []
    covered: set[str] = set()
    for alts in sessions:
        frees = [free(a) for a in alts]
        if kept and all(f <= covered for f in frees):
            continue
        kept.append(alts)
        covered |= set.intersection(*frees) if frees else set()
    return kept


def _cover_key(roles: Sequence[str]) -> tuple[str, str] | None:
    for role, key in _COVER_KEYS:
        if role in roles:
            return role, key
    return None
