"""Probabilistic linkage with Splink 5: settings from the identifier roles present, training, prediction, hard
non-match guards, clustering at three bands, one-to-one links, model files and pair explanations.

The backend is whatever Splink database API registered the data: :class:`splink.DuckDBAPI` by default, or
``splink.SparkAPI`` for scale. Everything here goes through Splink's own backend abstraction (comparison levels
from Splink's library, or custom conditions written in DuckDB SQL and transpiled by Splink with sqlglot); the only
SQL run outside Splink's comparison engine is the guard filter, a plain ``select ... where`` over Splink's own
output columns that every SQL engine accepts.

Inputs are tables of standard columns (see :mod:`.standardise`), or of hashed standard columns (see
:mod:`.privacy`): the same column names, so one model builder serves both. In ``hashed`` mode only equality,
and Dice similarity of Bloom filters, can be computed.

Comparison levels are labelled ``<key>: <description>`` with stable keys (``exact``, ``else``...), which the
guards and the model-compatibility check read back from a saved model JSON.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import math
import os
import re
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import Linker, SettingsCreator
from splink.internals.exceptions import EMTrainingException

from ..errors import InputError
from . import bloom
from .blocking import _training_rules, blocking_rules_for, prediction_blocking

log = logging.getLogger(__name__)

Mode = Literal["clear", "hashed"]
LinkType = Literal["dedupe_only", "link_only", "link_and_dedupe"]
BANDS: tuple[str, ...] = ("high", "medium", "low")
DEFAULT_BAND = "medium"

#: Roles a Splink comparison is built for, in model order.
COMPARISON_ROLES: tuple[str, ...] = (
    "forename", "middle_names", "surname", "date_of_birth", "sex", "postcode", "address", "town", "id_number",
)
#: Output column name (``gamma_<name>``) of each role's comparison.
COMPARISON_NAME = {"date_of_birth": "dob"} | {r: r for r in COMPARISON_ROLES if r != "date_of_birth"}
ROLE_OF_COMPARISON = {v: k for k, v in COMPARISON_NAME.items()}


@dataclass(frozen=True)
class Thresholds:
    """Match-probability thresholds of the three bands (a pair is in the highest band whose threshold it meets)."""

    high: float = 0.99
    medium: float = 0.9
    low: float = 0.5

    def __post_init__(self) -> None:
        for name in BANDS:
            v = getattr(self, name)
            if not 0 < v < 1:
                raise InputError(f"threshold {name}={v} is not between 0 and 1",
                                 hint="give match probabilities such as high: 0.99, medium: 0.9, low: 0.5")
        if not self.high >= self.medium >= self.low:
            raise InputError(f"thresholds must satisfy high >= medium >= low (got {self.high}, {self.medium}, "
                             f"{self.low})", hint="order the three thresholds from strictest to loosest")

    def as_dict(self) -> dict[str, float]:
        return {b: getattr(self, b) for b in BANDS}

    def band_sql(self, prob: str = "match_probability") -> str:
        return (f"case when {prob} >= {self.high!r} then 'high' when {prob} >= {self.medium!r} then 'medium' "
                f"when {prob} >= {self.low!r} then 'low' end")


#: Bounds and rate of the default u sample (:meth:`TrainingOptions.u_pairs`).
U_MAX_PAIRS, U_MIN_PAIRS, U_PAIRS_PER_RECORD = 1e6, 1e5, 20


@dataclass(frozen=True)
class TrainingOptions:
    """How a model is trained. Defaults suit 1,000 to 5,000,000 records."""

    seed: int = 42
    #: Pairs sampled to estimate u probabilities (non-match agreement rates). None: sized to the records (see
    #: :meth:`u_pairs`): 1,000,000 from 50,000 records up, fewer on small files where the sampled pairs' costly
    #: comparisons would dominate the run.
    u_max_pairs: float | None = None
    #: Cap on blocked pairs used by each EM session (same accuracy as uncapped at a fraction of the memory).
    em_max_pairs: float = 1e6
    #: Assumed recall of the strict deterministic rules used to estimate the prior match probability.
    deterministic_recall: float = 0.8
    #: Term-frequency adjustments on exact name (and postcode) agreement.
    term_frequency_adjustments: bool = True

    def u_pairs(self, records: int) -> float:
        """Pairs to sample for u: the configured number, or 20 per record between 100,000 and 1,000,000 (on
        FEBRL3/4 100,000 to 200,000 random pairs give the same links as 1,000,000 at a fraction of the cost)."""
        if self.u_max_pairs is not None:
            return float(self.u_max_pairs)
        return float(min(U_MAX_PAIRS, max(U_MIN_PAIRS, U_PAIRS_PER_RECORD * records)))


@dataclass(frozen=True)
class Guards:
    """Hard non-match rules applied to scored pairs before clustering.

    * ``twins``: same (or nearly the same) surname and date of birth, forenames clearly different (no exact, nickname, phonetic,
      close spelling, initial or middle-name agreement) - the signature of twins (and of siblings recorded with
      a wrong date of birth), which the data cannot tell from one person using an alias.
    * ``generation``: dates of birth ``generation_years`` or more apart and not explained by a single typing slip
      or a day/month transposition - a parent and child of the same name at one address.
    """

    twins: bool = True
    generation: bool = True
    generation_years: int = 10

    def as_dict(self) -> dict[str, Any]:
        return {"twins": self.twins, "generation": self.generation, "generation_years": self.generation_years}


@dataclass(frozen=True)
class ModelOptions:
    """Options of the models built within :func:`model_options` (the defaults leave every model as it was).

    * ``surname_changes``: the surname comparison gains a ``changed`` level (see :func:`_surname`) for a woman
      whose surname differs while her forename and date of birth agree: a changed surname (marriage, divorce)
      costs far less than another person's surname would;
    * ``generation_years``: the years apart at which dates of birth are a hard non-match (the ``generation``
      guard and level), instead of the job's guards' value: a smaller gap for sources about children, who cannot
      be a parent or an older sibling.
    """

    surname_changes: bool = False
    generation_years: int | None = None


_MODEL_OPTIONS: contextvars.ContextVar[ModelOptions | None] = contextvars.ContextVar("bold_model_options",
                                                                                      default=None)

#: The ``changed`` surname level's fixed m (the share of pairs of one woman's records, made years apart, that carry
#: different surnames: marriage and divorce; an assumption, not estimated) and u (the share of non-matching pairs
#: whose surnames differ). Conditional on the forename and date of birth agreeing, which their own comparisons
#: count, so the level costs log2(m / u), about -2.7 bits, instead of the else level's -5 or so.
SURNAME_CHANGE_M, SURNAME_CHANGE_U = 0.15, 0.98


@contextlib.contextmanager
def model_options(**options: Any):
    """Build the models of the enclosed block with :class:`ModelOptions` (restored on exit)."""
    token = _MODEL_OPTIONS.set(ModelOptions(**options))
    try:
        yield current_model_options()
    finally:
        _MODEL_OPTIONS.reset(token)


def current_model_options() -> ModelOptions:
    """The options set by the innermost :func:`model_options` block (the defaults outside any)."""
    return _MODEL_OPTIONS.get() or ModelOptions()


# ---------------------------------------------------------------------------------------------- comparisons
def _c(name: str) -> str:
    return f'"{name}"'


def _level(key: str, description: str, sql: str) -> cll.CustomLevel:
    return cll.CustomLevel(sql, label_for_charts=f"{key}: {description}", base_dialect_str="duckdb")


def _null(*cols: str) -> cll.CustomLevel:
    cond = " or ".join(f'"{c}_l" is null or "{c}_r" is null' for c in cols)
    return _level("null", "missing on one side", cond).configure(is_null_level=True)


def _exact(col: str, key: str, description: str, tf: bool = False) -> cll.CustomLevel:
    lvl = _level(key, description, f'"{col}_l" = "{col}_r"')
    if tf:
        lvl = lvl.configure(tf_adjustment_column=col, tf_adjustment_weight=1.0)
    return lvl


def _else() -> cll.ElseLevel:
    return cll.ElseLevel().configure(label_for_charts="else: all other comparisons")


def _jw(col: str, t: float, key: str) -> cll.ComparisonLevelCreator:
    return cll.JaroWinklerLevel(col, t).configure(label_for_charts=f"{key}: Jaro-Winkler {col} >= {t}")


def _one_slip(col: str) -> cll.ComparisonLevelCreator:
    """Damerau-Levenshtein distance <= 1 (one character changed, added or dropped, or two adjacent characters
    swapped). Written as Levenshtein <= 2 AND Damerau-Levenshtein <= 1: the same pairs, but the engine computes the
    (ten times slower) Damerau-Levenshtein distance only for the few pairs that pass the cheap test."""
    return cll.And(cll.LevenshteinLevel(col, 2), cll.DamerauLevenshteinLevel(col, 1))


def _similar(phonetic_col: str, col: str, t: float) -> cll.ComparisonLevelCreator:
    return cll.Or(cll.ExactMatchLevel(phonetic_col), cll.JaroWinklerLevel(col, t)).configure(
        label_for_charts=f"similar: same phonetic code or Jaro-Winkler >= {t}")


def _forename(mode: Mode, tf: bool, has_middle: bool, bloom_ok: bool = True) -> cl.CustomComparison:
    levels: list = [_null("forename"), _exact("forename", "exact", "forename equal", tf),
                    _exact("forename_canonical", "nickname", "same canonical forename (nickname/diminutive)")]
    if mode == "clear":
        levels.append(_jw("forename", 0.92, "close"))
        # Short names with one slip ("AMA"/"AAM", "MIA"/"MZA") score low on Jaro-Winkler.
        levels.append(_one_slip("forename").configure(
            label_for_charts="typo: one character different or two adjacent characters swapped"))
    elif bloom_ok:
        levels.append(_level("close", "forename Bloom-filter Dice >= 0.8", bloom.dice_sql("forename", 0.8)))
    levels.append(_level("swapped", "forename equals the other's first middle name",
                         '"forename_l" = "middle_first_r" or "middle_first_l" = "forename_r"'))
    if mode == "clear":
        levels.append(_similar("forename_phonetic", "forename", 0.8))
        levels.append(_level("initial", "one forename is the initial of the other",
                             '(length("forename_l") = 1 or length("forename_r") = 1) and '
                             'substr("forename_l", 1, 1) = substr("forename_r", 1, 1)'))
    elif bloom_ok:
        levels.append(_level("similar", "same phonetic code or Bloom-filter Dice >= 0.6",
                             '"forename_phonetic_l" = "forename_phonetic_r" or '
                             + bloom.dice_sql("forename", 0.6)))
    else:
        levels.append(_exact("forename_phonetic", "similar", "same phonetic code"))
    if mode == "hashed":
        levels.append(_exact("forename_prefix", "prefix", "same first three letters"))
        levels.append(_level("initial", "one forename is the initial of the other",
                             '"forename_initial_l" = "forename_letter_r" or "forename_letter_l" = "forename_initial_r"'))
        if bloom_ok:
            # One slip in a short name ("AMA"/"AAM") leaves a Dice of 0.5-0.6; unrelated names mostly less.
            levels.append(_level("weak", "forename Bloom-filter Dice >= 0.5", bloom.dice_sql("forename", 0.5)))
    levels.append(_else())
    return cl.CustomComparison(levels, output_column_name="forename", comparison_description="Forename")


def _surname(mode: Mode, tf: bool, has_forename: bool, bloom_ok: bool = True,
             changes: bool = False) -> cl.CustomComparison:
    """Surname levels; ``changes`` adds the ``changed`` level: the surnames differ (no level above agrees) while
    the forename agrees (exactly, as the same canonical name, or Jaro-Winkler >= 0.92) and the date of birth
    exactly, and both records are female (or one has no sex recorded). It reads ``dob``, not the ``dob_iso`` key
    that a training session blocks on, so a session blocked on the date of birth still estimates the surname's
    other levels. Its m and u are fixed (:data:`SURNAME_CHANGE_M`,
    :data:`SURNAME_CHANGE_U`): it needs forename, date of birth and sex among the roles (clear mode only)."""
    levels: list = [_null("surname"), _exact("surname", "exact", "surname equal", tf),
                    _level("parts", "same surname ignoring spaces, or one part of a double-barrelled surname",
                           '"surname_nospace_l" = "surname_nospace_r" or "surname_l" = "surname_first_r" or '
                           '"surname_l" = "surname_last_r" or "surname_first_l" = "surname_r" or '
                           '"surname_last_l" = "surname_r"')]
    if mode == "clear":
        levels.append(_jw("surname_nospace", 0.92, "close"))
        levels.append(_similar("surname_phonetic", "surname_nospace", 0.8))
    elif bloom_ok:
        levels.append(_level("close", "surname Bloom-filter Dice >= 0.8", bloom.dice_sql("surname", 0.8)))
        levels.append(_level("similar", "same phonetic code or Bloom-filter Dice >= 0.6",
                             '"surname_phonetic_l" = "surname_phonetic_r" or ' + bloom.dice_sql("surname", 0.6)))
    else:
        levels.append(_exact("surname_phonetic", "similar", "same phonetic code"))
    if mode == "hashed":
        levels.append(_exact("surname_prefix", "prefix", "same first four letters"))
    if has_forename:
        levels.append(_level("reversed", "forename and surname swapped",
                             '"surname_l" = "forename_r" and "forename_l" = "surname_r"'))
    if changes and mode == "clear":
        same_forename = cll.Or(cll.ExactMatchLevel("forename"), cll.ExactMatchLevel("forename_canonical"),
                               cll.JaroWinklerLevel("forename", 0.92))
        woman = cll.CustomLevel('"dob_l" = "dob_r" and coalesce("sex_l", \'F\') = \'F\' and '
                                'coalesce("sex_r", \'F\') = \'F\' and ("sex_l" = \'F\' or "sex_r" = \'F\')',
                                base_dialect_str="duckdb")
        levels.append(cll.And(same_forename, woman).configure(
            label_for_charts="changed: surnames differ; the same forename (exact, nickname or Jaro-Winkler >= 0.92) "
                             "and date of birth, both female (a changed surname)",
            m_probability=SURNAME_CHANGE_M, u_probability=SURNAME_CHANGE_U, fix_m_probability=True,
            fix_u_probability=True))
    levels.append(_else())
    return cl.CustomComparison(levels, output_column_name="surname", comparison_description="Surname")


def _dob(mode: Mode, generation_years: int, partial: bool = False) -> cl.CustomComparison:
    # With partial dates a record may know only the year (and month): the comparison is null only when a year is
    # missing, and a "partial" level compares the parts both records know.
    levels: list = [_null("dob_year" if partial and mode == "clear" else "dob_iso"),
                    _exact("dob_iso", "exact", "date of birth equal"),
                    _level("transposed", "day and month transposed",
                           '"dob_iso_l" = "dob_swapped_r" or "dob_swapped_l" = "dob_iso_r"')]
    if partial and mode == "clear":
        levels.append(_level("partial", "a partial date: the year and (where both know it) the month equal",
                             '("dob_iso_l" is null or "dob_iso_r" is null) and "dob_year_l" = "dob_year_r" and '
                             '("dob_month_l" is null or "dob_month_r" is null or "dob_month_l" = "dob_month_r")'))
    if mode == "clear":
        # One slip in one part (day, month or year): the same pairs as Damerau-Levenshtein <= 1 on the ISO text,
        # but the slow edit distance runs on a 2- or 4-character part and only where the other two parts agree.
        levels.append(_level(
            "typo", "one character different or two adjacent characters swapped",
            '("dob_year_l" = "dob_year_r" and "dob_month_l" = "dob_month_r" and '
            'damerau_levenshtein(substr("dob_iso_l", 9, 2), substr("dob_iso_r", 9, 2)) <= 1) or '
            '("dob_year_l" = "dob_year_r" and "dob_day_l" = "dob_day_r" and '
            'damerau_levenshtein(substr("dob_iso_l", 6, 2), substr("dob_iso_r", 6, 2)) <= 1) or '
            '("dob_month_l" = "dob_month_r" and "dob_day_l" = "dob_day_r" and '
            'damerau_levenshtein(substr("dob_iso_l", 1, 4), substr("dob_iso_r", 1, 4)) <= 1)'))
        levels.append(cll.AbsoluteDateDifferenceLevel("dob", input_is_string=False, threshold=1,
                                                      metric="year").configure(
            label_for_charts="near: within one year (other than the above)"))
        levels.append(_level("generation", f"{generation_years} or more years apart",
                             f'abs("dob_year_l" - "dob_year_r") >= {int(generation_years)}'))
    else:
        levels.append(_level("typo", "two of year, month and day equal",
                             '("dob_year_l" = "dob_year_r" and "dob_month_l" = "dob_month_r") or '
                             '("dob_year_l" = "dob_year_r" and "dob_day_l" = "dob_day_r") or '
                             '("dob_month_l" = "dob_month_r" and "dob_day_l" = "dob_day_r")'))
        levels.append(_level("generation", "years of birth far apart (neither decade key agrees)",
                             '"dob_decade_l" <> "dob_decade_r" and "dob_decade_shifted_l" <> "dob_decade_shifted_r"'))
    levels.append(_else())
    return cl.CustomComparison(levels, output_column_name="dob", comparison_description="Date of birth")


def _sex() -> cl.CustomComparison:
    # Sex follows from the forename, so in pairs blocked on names it agrees for matches and non-matches alike and
    # expectation maximisation would take "same sex" for "same person". Its m probabilities are therefore fixed
    # (recording errors of about 2%) rather than estimated; u is still estimated by random sampling.
    return cl.CustomComparison(
        [_null("sex"),
         _exact("sex", "exact", "sex equal").configure(m_probability=0.98, fix_m_probability=True),
         _else().configure(m_probability=0.02, fix_m_probability=True)],
        output_column_name="sex", comparison_description="Sex")


def _postcode(tf: bool) -> cl.CustomComparison:
    return cl.CustomComparison(
        [_null("postcode"), _exact("postcode", "exact", "postcode equal", tf),
         _exact("postcode_sector", "sector", "same postcode sector"),
         _exact("postcode_outward", "district", "same outward code (postcode district)"), _else()],
        output_column_name="postcode", comparison_description="Postcode")


def _middle(mode: Mode) -> cl.CustomComparison:
    levels: list = [_null("middle_names"), _exact("middle_names", "exact", "middle names equal"),
                    _exact("middle_first", "first", "first middle name equal")]
    if mode == "clear":
        levels.append(_level("initial", "same first initial",
                             'substr("middle_first_l", 1, 1) = substr("middle_first_r", 1, 1)'))
    levels.append(_else())
    return cl.CustomComparison(levels, output_column_name="middle_names", comparison_description="Middle names")


def _address(mode: Mode) -> cl.CustomComparison:
    levels: list = [_null("address"), _exact("address", "exact", "address equal")]
    if mode == "clear":
        levels.append(_jw("address", 0.9, "close"))
        levels.append(cll.And(cll.ExactMatchLevel("address_number"), cll.JaroWinklerLevel("address", 0.7))
                      .configure(label_for_charts="number: same house number and Jaro-Winkler >= 0.7"))
    else:
        levels.append(_exact("address_number", "number", "same house number"))
    levels.append(_else())
    return cl.CustomComparison(levels, output_column_name="address", comparison_description="Address")


def _town(mode: Mode) -> cl.CustomComparison:
    levels: list = [_null("town"), _exact("town", "exact", "town equal")]
    if mode == "clear":
        levels.append(_jw("town", 0.9, "close"))
    levels.append(_else())
    return cl.CustomComparison(levels, output_column_name="town", comparison_description="Town")


def _id_number(mode: Mode) -> cl.CustomComparison:
    levels: list = [_null("id_number"), _exact("id_number", "exact", "identifier equal")]
    if mode == "clear":
        levels.append(_one_slip("id_number").configure(
            label_for_charts="typo: one character different"))
        levels.append(cll.LevenshteinLevel("id_number", 2).configure(
            label_for_charts="close: two characters different"))
    levels.append(_else())
    return cl.CustomComparison(levels, output_column_name="id_number", comparison_description="Other identifier")


def comparisons_for(roles: Sequence[str], *, mode: Mode = "clear", tf: bool = True,
                    generation_years: int = 10, bloom_filters: bool = True, extras: Sequence[Any] = (),
                    partial_dates: bool = False, surname_changes: bool = False) -> list[cl.CustomComparison]:
    """The Splink comparisons for the identifier roles present on every side.

    ``surname_changes``: the surname comparison has the ``changed`` level (where forename, date of birth and sex
    are compared too; see :func:`_surname`).

    In ``hashed`` mode the fuzzy name levels use Bloom-filter Dice similarity when ``bloom_filters`` (the hashed
    files carry ``<name>_clk_*`` columns), else only exact, nickname and phonetic agreement.
    """
    present = set(roles)
    out: list[cl.CustomComparison] = []
    if "forename" in present:
        out.append(_forename(mode, tf, "middle_names" in present, bloom_filters))
    if "middle_names" in present:
        out.append(_middle(mode))
    if "surname" in present:
        out.append(_surname(mode, tf, "forename" in present, bloom_filters,
                            changes=surname_changes and {"forename", "date_of_birth", "sex"} <= present))
    if "date_of_birth" in present:
        out.append(_dob(mode, generation_years, partial_dates))
    if "sex" in present:
        out.append(_sex())
    if "postcode" in present:
        out.append(_postcode(tf))
    if "address" in present:
        out.append(_address(mode))
    if "town" in present:
        out.append(_town(mode))
    if "id_number" in present:
        out.append(_id_number(mode))
    if extras:
        from .comparisons import comparisons_for as extra_comparisons

        out += extra_comparisons(extras, mode)
    return out


# ---------------------------------------------------------------------------------------------- blocking
# The blocking rules (for prediction, by job size, and the training sessions) live in :mod:`.blocking`.


def build_settings(roles: Sequence[str], *, link_type: LinkType, mode: Mode = "clear", tf: bool = True,
                   generation_years: int = 10, additional_columns: Sequence[str] = (),
                   bloom_filters: bool = True, records: int | None = None, extras: Sequence[Any] = (),
                   partial_dates: bool = False, surname_changes: bool = False) -> SettingsCreator:
    """Splink settings for the identifier roles present on every side of the job."""
    comparisons = comparisons_for(roles, mode=mode, tf=tf, generation_years=generation_years,
                                  bloom_filters=bloom_filters, extras=extras, partial_dates=partial_dates,
                                  surname_changes=surname_changes)
    if len(comparisons) < 2:
        names = [*roles, *(x.name for x in extras)]
        raise InputError(f"too few identifiers to separate people: only {len(comparisons)} compared "
                         f"({', '.join(names) or 'none'}), so every person sharing that value would be linked",
                         hint="map at least two identifiers on every file (for example forename and surname, "
                              "better with date_of_birth or postcode), or declare extra comparisons")
    return SettingsCreator(
        link_type=link_type,
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking_rules_for(roles, records, extras),
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=False,
        additional_columns_to_retain=list(additional_columns),
        probability_two_random_records_match=1e-4,
        max_iterations=20,
        em_convergence=1e-4,
    )


# ---------------------------------------------------------------------------------------------- model files
def model_extras(settings: Mapping[str, Any]) -> tuple[str, ...]:
    """The declared extra comparisons (``x_<name>``) a saved model compares, by name."""
    return tuple(c["output_column_name"][2:] for c in settings.get("comparisons", [])
                 if str(c.get("output_column_name", "")).startswith("x_"))


def model_roles(settings: Mapping[str, Any]) -> tuple[str, ...]:
    """The identifier roles a (saved) model compares, read from its comparisons' output column names."""
    roles = []
    for c in settings.get("comparisons", []):
        name = c.get("output_column_name")
        if str(name).startswith("x_"):
            continue
        if name not in ROLE_OF_COMPARISON:
            raise InputError(f"the model compares {name!r}, which is not a standard identifier role",
                             hint="use a model file written by `bold link`")
        roles.append(ROLE_OF_COMPARISON[name])
    return tuple(roles)


def model_mode(settings: Mapping[str, Any]) -> Mode:
    text = json.dumps(settings.get("comparisons", []))
    return "hashed" if "_clk_" in text else "clear"


def read_model(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"model file {p} not found", hint="give the model.json written by an earlier `bold link`")
    try:
        settings = json.loads(p.read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"model file {p} is not valid JSON: {e}", hint="give a model.json written by `bold link`"
                         ) from e
    if not isinstance(settings, dict) or "comparisons" not in settings:
        raise InputError(f"{p} is not a Splink model file (no comparisons)",
                         hint="give a model.json written by `bold link`")
    return settings


def check_model_compatible(settings: Mapping[str, Any], roles: Sequence[str], mode: Mode, *,
                           source: str = "the model", extras: Sequence[Any] = ()) -> None:
    """Raise :class:`InputError` when a saved model was trained on another set of identifiers (or mode)."""
    have = tuple(r for r in COMPARISON_ROLES if r in set(roles)) + tuple(sorted(f"extra {x.name}" for x in extras))
    want = tuple(r for r in COMPARISON_ROLES if r in set(model_roles(settings))) + tuple(
        sorted(f"extra {n}" for n in model_extras(settings)))
    if have != want:
        extra = sorted(set(have) - set(want))
        missing = sorted(set(want) - set(have))
        detail = "; ".join(x for x in (f"the model also needs {', '.join(missing)}" if missing else "",
                                       f"this job also maps {', '.join(extra)}" if extra else "") if x)
        raise InputError(
            f"{source} was trained on identifiers ({', '.join(want)}) that differ from this job's "
            f"({', '.join(have)}): {detail}",
            hint="map the same identifier roles as when the model was trained, or train a new model "
                 "(omit `model:` from the config)")
    m = model_mode(settings)
    if m != mode:
        raise InputError(f"{source} was trained on {m} identifiers but this job links {mode} identifiers",
                         hint="use a model trained in the same mode (clear text or hashed)")


# ---------------------------------------------------------------------------------------------- model
#: Smallest m probability kept after training: a level EM never saw among matches still gets a finite weight.
M_FLOOR = 1e-3


def regularise_parameters(settings: Mapping[str, Any], *, u_max_pairs: float = 1e6,
                          m_floor: float = M_FLOOR, fill_missing: bool = True) -> dict[str, Any]:
    """Make every trained weight finite and every level usable on the next snapshot.

    * m probabilities below ``m_floor`` (EM drives unseen disagreement levels to 0, an infinitely negative
      weight) are raised to it and the comparison's m values renormalised;
    * a level never seen among matches gets m = ``m_floor``;
    * a level never seen among the random pairs gets u = 1 / ``u_max_pairs`` (it is rarer than that);
    * a level seen in neither is neutral (m = u);
    * a comparison's m values are renormalised to sum to 1, except a level whose m is fixed where the comparison
      has estimated levels too (the ``changed`` surname level's m is conditional on the forename and date of
      birth agreeing: not a share of all matches), which keeps its value.

    With ``fill_missing=False`` (between training sessions) only numeric m values below the floor are raised;
    untrained values are left for the next session to estimate.
    """
    out = json.loads(json.dumps(settings))
    u_floor = 1.0 / max(u_max_pairs, 1.0)
    for c in out["comparisons"]:
        levels = [lv for lv in c["comparison_levels"] if not lv.get("is_null_level")]
        if not fill_missing:
            for lv in levels:
                m = lv.get("m_probability")
                if isinstance(m, int | float) and m < m_floor:
                    lv["m_probability"] = m_floor
            continue
        for lv in levels:
            m, u = lv.get("m_probability"), lv.get("u_probability")
            m_ok = isinstance(m, int | float)
            u_ok = isinstance(u, int | float) and u > 0
            if not m_ok and not u_ok:
                lv["m_probability"], lv["u_probability"] = m_floor, m_floor
                continue
            if not u_ok:
                lv["u_probability"] = u_floor
            lv["m_probability"] = max(float(m), m_floor) if m_ok else m_floor
        # a comparison's estimated m values sum to 1; a level with a fixed m (the changed surname's conditional
        # value) stays outside that sum (a comparison whose every level is fixed, sex, is normalised as a whole)
        free = [lv for lv in levels if not lv.get("fix_m_probability")] or levels
        total = sum(lv["m_probability"] for lv in free)
        for lv in free:
            lv["m_probability"] = lv["m_probability"] / total
    return out


def default_parameters(settings: Mapping[str, Any], records: int) -> dict[str, Any]:
    """Generic m and u probabilities for a model that cannot be trained (one record, identical records, no
    shared values): agreement on the strongest level is worth about 2^6.5, a fuzzy level about 2^2, disagreement
    about -2^5; "generation" (dates far apart) counts as strong disagreement; sex keeps its fixed m. The prior is
    one expected match per record of the smaller side. Results from these weights are rough: the summary says
    the model was not trained."""
    out = json.loads(json.dumps(settings))
    for c in out["comparisons"]:
        levels = [lv for lv in c["comparison_levels"] if not lv.get("is_null_level")]
        k = len(levels)
        for i, lv in enumerate(levels):
            key = str(lv.get("label_for_charts", "")).split(":")[0]
            # term frequencies of a handful of records say nothing about the population
            lv.pop("tf_adjustment_column", None)
            lv.pop("tf_adjustment_weight", None)
            if lv.get("fix_m_probability"):
                lv["u_probability"] = 0.5
                continue
            if i == k - 1 or key == "generation":
                m, u = (0.03, 0.95) if i == k - 1 else (0.001, 0.3)
            elif i == 0:
                m, u = 0.9, 0.01
            else:
                m, u = 0.07 / max(k - 2, 1), 0.02 / max(k - 2, 1)
            lv["m_probability"], lv["u_probability"] = m, u
    out["probability_two_random_records_match"] = min(0.5, 1.0 / max(records, 2))
    return out


def _level_value(settings: Mapping[str, Any], comparison: str, key: str) -> int | None:
    """The comparison-vector value (``gamma_<comparison>``) of the level labelled ``<key>: ...``."""
    for c in settings["comparisons"]:
        if c.get("output_column_name") != comparison:
            continue
        levels = [lv for lv in c["comparison_levels"] if not lv.get("is_null_level")]
        for i, lv in enumerate(levels):
            if str(lv.get("label_for_charts", "")).split(":")[0] == key:
                return len(levels) - 1 - i
    return None


def guard_conditions(settings: Mapping[str, Any], guards: Guards) -> dict[str, str]:
    """Reason -> SQL condition (over Splink's ``gamma_`` columns) of the hard non-match rules that apply."""
    out: dict[str, str] = {}
    f_else = _level_value(settings, "forename", "else")
    # the same date of birth, or one a single slip away (a transposed day and month, a typing error)
    d_levels = [v for v in (_level_value(settings, "dob", k) for k in ("exact", "transposed", "typo"))
                if v is not None]
    d_exact = _level_value(settings, "dob", "exact")
    # the surname agrees, exactly or nearly (a twin's surname can be misspelt too)
    s_levels = [v for v in (_level_value(settings, "surname", k) for k in ("exact", "parts", "close", "similar"))
                if v is not None]
    if guards.twins and f_else is not None and d_exact is not None and s_levels:
        surname_ok = f"gamma_surname in ({', '.join(str(v) for v in s_levels)})"
        dob_ok = f"gamma_dob in ({', '.join(str(v) for v in d_levels)})"
        out["twins"] = f"(gamma_forename = {f_else} and {surname_ok} and {dob_ok})"
    d_gen = _level_value(settings, "dob", "generation")
    if guards.generation and d_gen is not None:
        out["generation"] = f"(gamma_dob = {d_gen})"
    # A shared unique identifier (NI or NHS number...) overrides both rules: twins do not share one.
    if _level_value(settings, "id_number", "else") is not None:
        out = {k: f"({v} and gamma_id_number <= 0)" for k, v in out.items()}
    return out


@dataclass
class TrainingReport:
    probability_two_random_records_match: float
    em_sessions: list[str] = field(default_factory=list)
    u_max_pairs: float = 0.0
    em_max_pairs: float = 0.0
    #: Why generic parameters were used instead of training (None when the model was trained).
    default_parameters: str | None = None


class LinkageModel:
    """A Splink linker over registered standardised tables, with BOLD's bands, guards and explanations.

    ``tables`` are what the backend's ``db_api.register`` accepts (an Arrow table, a pandas frame, a Spark frame,
    or the name of a table already in the backend), one for a dedupe, two or more for a link. ``names`` are the
    dataset names (Splink's ``source_dataset``).
    """

    def __init__(self, tables: Sequence[Any], *, names: Sequence[str], roles: Sequence[str],
                 link_type: LinkType | None = None, mode: Mode = "clear", db_api: Any = None,
                 settings: Mapping[str, Any] | None = None, guards: Guards | None = None,
                 training: TrainingOptions | None = None, log_level: int | None = None,
                 bloom: bool = True, extras: Sequence[Any] = (), partial_dates: bool = False) -> None:
        if len(tables) != len(names) or not tables:
            raise ValueError("give one name per table")
        if db_api is None:
            from splink import DuckDBAPI

            db_api = DuckDBAPI()
        self.db_api = db_api
        self.names = list(names)
        self.roles = tuple(r for r in COMPARISON_ROLES if r in set(roles))
        self.mode: Mode = mode
        options = current_model_options()
        self.guards = guards or Guards()
        if options.generation_years is not None:
            self.guards = Guards(twins=self.guards.twins, generation=self.guards.generation,
                                 generation_years=options.generation_years)
        self.training = training or TrainingOptions()
        self.link_type: LinkType = link_type or ("dedupe_only" if len(tables) == 1 else "link_only")
        self.extras = tuple(extras)
        # A fresh registered name per model, so several models can share one backend connection.
        tag = uuid.uuid4().hex[:8]
        self.sdfs = [db_api.register(t, dataset_display_name=n, table_name=f"__bold_input_{i}_{tag}")
                     for i, (t, n) in enumerate(zip(tables, names, strict=True))]
        self.records = self._count_records()
        if settings is None:
            creator = build_settings(self.roles, link_type=self.link_type, mode=mode,
                                     tf=self.training.term_frequency_adjustments,
                                     generation_years=self.guards.generation_years, bloom_filters=bloom,
                                     records=self.records, extras=self.extras, partial_dates=partial_dates,
                                     surname_changes=options.surname_changes)
            self.linker = Linker(self.sdfs if len(self.sdfs) > 1 else self.sdfs[0], creator, log_level=log_level)
            self.trained = False
        else:
            check_model_compatible(settings, self.roles, mode, extras=self.extras)
            s = dict(settings)
            s["link_type"] = self.link_type
            s["retain_intermediate_calculation_columns"] = False
            s["retain_matching_columns"] = True
            # Blocking is not part of the fitted model: choose it for this snapshot's size (rules read only the
            # standard columns, so they are valid for any model with the same identifiers).
            s["blocking_rules_to_generate_predictions"] = prediction_blocking(self.roles, self.records, self.extras)
            self.linker = Linker(self.sdfs if len(self.sdfs) > 1 else self.sdfs[0], s, log_level=log_level)
            self.trained = True
        self.training_report: TrainingReport | None = None
        self.log_level = log_level

    def _relink(self, settings: Mapping[str, Any]) -> Linker:
        """A linker over the model's tables with new parameters (the same comparisons and blocking rules).

        Splink's settings validation (every comparison level's SQL parsed against the input columns, about half a
        second for the standard comparisons) ran when the model was built; it only logs problems, and a change of
        parameters cannot add one, so it is not repeated here (training re-creates the linker after a failed
        session and once regularised)."""
        return Linker(self.sdfs if len(self.sdfs) > 1 else self.sdfs[0], dict(settings), log_level=self.log_level,
                      validate_settings=False)

    def _count_records(self) -> int:
        total = 0
        for sdf in self.sdfs:
            rows = self.db_api.query_sql(f"select count(*) as n from {sdf.physical_name}", output_type="splink_df")
            total += int(rows.as_record_list()[0]["n"])
            rows.drop_table_from_database_and_remove_from_cache()
        return total

    # ------------------------------------------------------------------ training
    def train(self, progress: Callable[[str], None] | None = None) -> TrainingReport:
        """Estimate the prior (deterministic rules), u (random sampling) and m (EM, capped) parameters."""
        say = progress or (lambda _m: None)
        opts = self.training
        det, em = _training_rules(self.roles, self.extras)
        say("estimating the probability that two random records match")
        self.linker.training.estimate_probability_two_random_records_match(det, recall=opts.deterministic_recall)
        if not self.settings()["probability_two_random_records_match"] > 0:
            # No pair agrees on every identifier of a deterministic rule (a file without duplicates, say): Splink
            # cannot start from a prior of 0, so start from one expected match among all the pairs.
            n = max(self.records, 2)
            start = dict(self.settings(), probability_two_random_records_match=2 / (n * (n - 1)))
            self.linker = self._relink(start)
            say("  no pair agrees on every identifier: starting from one expected match")
        say("estimating u probabilities by random sampling")
        # One chunk over the whole sample: Splink's early exit after a 1% probe can rest on a few dozen records of
        # one side (with repeated records of the same people), which made u for sex swing between 0.37 and 0.77.
        u_pairs = opts.u_pairs(self.records)
        self.linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=opts.seed,
                                                              min_count_per_level=None, num_chunks=1)
        sessions = []
        for alternatives in em:
            for k, rule in enumerate(alternatives):
                desc = rule.get_blocking_rule(self.linker._sql_dialect_str).blocking_rule_sql
                if k < len(alternatives) - 1 and not self._keys_have_values(desc):
                    # a key empty on a side (postcode sectors of free-text postcodes, say) yields no pairs: go to
                    # the next alternative without a failed session and the rebuilt model it costs
                    continue
                say(f"expectation maximisation blocked on {desc}")
                before = self.settings()
                try:
                    self.linker.training.estimate_parameters_using_expectation_maximisation(
                        rule, max_pairs=opts.em_max_pairs)
                except (EMTrainingException, ValueError) as e:
                    no_pairs = "resulted in no record pairs" in str(e)
                    if not no_pairs and "below the minimum allowed" not in str(e):
                        raise
                    # A failed session leaves the linker without the comparisons its rule blocked on: start again
                    # from the parameters as they were (floored: Splink refuses an m of exactly 0).
                    self.linker = self._relink(regularise_parameters(before, fill_missing=False))
                    say("  no pairs: trying the next rule" if no_pairs else "  numerical underflow: skipped")
                    continue
                sessions.append(desc)
                break
        if not sessions:
            raise InputError("no record pairs to train the model on: the files share no name, date of birth or "
                             "other identifier value", hint="check the column mapping, give larger files, or reuse "
                                                            "a trained model with `model:`")
        regularised = regularise_parameters(self.settings(), u_max_pairs=u_pairs)
        self.linker = self._relink(regularised)
        self.trained = True
        self.training_report = TrainingReport(
            probability_two_random_records_match=self.settings()["probability_two_random_records_match"],
            em_sessions=sessions, u_max_pairs=u_pairs, em_max_pairs=opts.em_max_pairs)
        return self.training_report

    def _keys_have_values(self, rule_sql: str) -> bool:
        """Whether every column a blocking rule compares holds a value on every side (a cheap test that can only
        say no when the rule would give no pairs)."""
        keys = sorted(set(re.findall(r'l\."([A-Za-z0-9_]+)"', rule_sql)))
        if not keys or type(self.db_api).__name__ != "DuckDBAPI":
            return True
        con = self.db_api.duckdb_con
        for sdf in self.sdfs:
            cols = {r[0] for r in con.execute(f"describe {sdf.physical_name}").fetchall()}
            if not set(keys) <= cols:
                return True  # leave the judgement to Splink
            counts = con.execute("select " + ", ".join(f'count("{c}")' for c in keys)
                                 + f" from {sdf.physical_name}").fetchall()[0]
            if not all(counts):
                return False
        return True

    def use_default_parameters(self, reason: str) -> None:
        """Score with :func:`default_parameters` instead of training (recorded in the training report)."""
        self.linker = self._relink(default_parameters(self.settings(), self.records))
        self.trained = False
        self.training_report = TrainingReport(
            probability_two_random_records_match=self.settings()["probability_two_random_records_match"],
            em_sessions=[], default_parameters=reason)

    # ------------------------------------------------------------------ model files
    def settings(self) -> dict[str, Any]:
        return self.linker.misc.save_model_to_json()

    def save(self, path: str | Path) -> dict[str, Any]:
        """Write the trained model as Splink JSON (loadable with ``Linker(data, path)`` or :meth:`load`)."""
        d = self.settings()
        Path(path).write_text(json.dumps(d, indent=2, sort_keys=False), encoding="utf-8")
        return d

    @classmethod
    def load(cls, path: str | Path, tables: Sequence[Any], *, names: Sequence[str], roles: Sequence[str],
             mode: Mode = "clear", link_type: LinkType | None = None, db_api: Any = None,
             guards: Guards | None = None) -> LinkageModel:
        """A model from a saved JSON file, for reuse on a new snapshot (clear error if the identifiers differ)."""
        settings = read_model(path)
        try:
            check_model_compatible(settings, roles, mode, source=f"model {path}")
        except InputError:
            raise
        return cls(tables, names=names, roles=roles, mode=mode, link_type=link_type, db_api=db_api,
                   settings=settings, guards=guards)

    # ------------------------------------------------------------------ prediction
    def predict(self, threshold: float = 0.01, *, chunks: tuple[int, int] | None = None):
        """Scored pairs at or above ``threshold`` (Splink's prediction table, a SplinkDataFrame)."""
        kw = {}
        if chunks:
            kw = {"num_chunks_left": chunks[0], "num_chunks_right": chunks[1]}
        return self.linker.inference.predict(threshold_match_probability=threshold, warning_mode="never", **kw)

    def guard_conditions(self) -> dict[str, str]:
        return guard_conditions(self.settings(), self.guards)

    def apply_guards(self, predictions):
        """Split predictions into (kept, excluded) SplinkDataFrames; excluded rows carry ``guard`` (the reason)."""
        conds = self.guard_conditions()
        name = predictions.physical_name
        # Keep only what clustering and reporting need (ids, weights, comparison levels): clustering a narrow
        # table is several times faster than clustering Splink's wide prediction table.
        cols = [c.unquote().name for c in predictions.columns]
        keep = [c for c in cols if c.startswith(("unique_id_", "source_dataset_", "gamma_"))
                or c in ("match_weight", "match_probability")]
        select = ", ".join(keep)  # plain names: double quotes are string literals on Spark
        if not conds:
            kept = self.db_api.query_sql(f"select {select} from {name}")
            excluded = self.db_api.query_sql(f"select {select}, cast(null as varchar) as guard from {name} "
                                             "where 1 = 0")
            return kept, excluded
        reason = "case " + " ".join(f"when {c} then '{k}'" for k, c in conds.items()) + " end"
        any_cond = " or ".join(conds.values())
        kept = self.db_api.query_sql(f"select {select} from {name} where not ({any_cond})")
        excluded = self.db_api.query_sql(f"select {select}, {reason} as guard from {name} where {any_cond}")
        return kept, excluded

    def predict_guarded(self, threshold: float = 0.01, *, chunks: tuple[int, int] | None = None):
        """Scored pairs at or above ``threshold``, split by the guards into narrow (kept, excluded) tables.

        With ``chunks`` = (N, M) the pairs are scored one chunk at a time with Splink's ``predict_chunk`` (left
        records in N slices, right records in M) and each chunk's wide prediction table is narrowed and dropped
        before the next, so the wide table - both records' compared values for every pair - never exists for
        more than one chunk. This bounds the memory and disk the scoring needs at tens of millions of pairs.
        """
        if not chunks or chunks == (1, 1):
            return self.apply_guards(self.predict(threshold))
        kept_parts, excluded_parts = [], []
        n, m = chunks
        lazy = type(self.db_api).__name__ == "SparkAPI"  # Spark's narrowed tables are plans over the wide one
        for i in range(1, n + 1):
            for j in range(1, m + 1):
                wide = self.linker.inference.predict_chunk(left_chunk=(i, n), right_chunk=(j, m),
                                                           threshold_match_probability=threshold,
                                                           warning_mode="never")
                kept, excluded = self.apply_guards(wide)
                kept_parts.append(kept)
                excluded_parts.append(excluded)
                if not lazy:
                    wide.drop_table_from_database_and_remove_from_cache()
        out = []
        for parts in (kept_parts, excluded_parts):
            out.append(self.db_api.query_sql(" union all ".join(f"select * from {t.physical_name}" for t in parts)))
            if not lazy:
                for t in parts:
                    t.drop_table_from_database_and_remove_from_cache()
        return out[0], out[1]

    def cluster(self, predictions, thresholds: Thresholds, *, one_to_one: Sequence[str] = (),
                compact: bool = False) -> dict[str, Any]:
        """Clusters (SplinkDataFrames with ``cluster_id``) at each band's threshold.

        ``one_to_one`` names datasets that hold at most one record per person: clusters then take the single
        best links and never contain two records of those datasets. ``compact`` (dedupe only): solve the
        connected components over integer node ids and return just ``unique_id`` and ``cluster_id`` - the same
        clusters and ids, with a fraction of the memory and disk at tens of millions of pairs.
        """
        if self.link_type == "dedupe_only":
            one_to_one = ()  # a file being deduplicated holds several records of a person by definition
            # On DuckDB the in-process components are always used: the same clusters and ids as Splink's
            # iterated SQL, solved once per band in milliseconds instead of several SQL passes per band.
            if compact or type(self.db_api).__name__ == "DuckDBAPI":
                return self._cluster_compact(predictions, thresholds)
        out = {}
        for band in BANDS:
            t = getattr(thresholds, band)
            if one_to_one:
                with _duckdb_written_join_order(self.db_api):
                    out[band] = self.linker.clustering.cluster_using_single_best_links(
                        predictions, duplicate_free_datasets=list(one_to_one), threshold_match_probability=t)
            else:
                out[band] = self.linker.clustering.cluster_pairwise_predictions_at_threshold(
                    predictions, threshold_match_probability=t)
        return out

    def _cluster_compact(self, predictions, thresholds: Thresholds) -> dict[str, Any]:
        """Connected components at each band over integer node ids, numbered in ``unique_id`` order so that each
        cluster's representative - its smallest node - is its smallest ``unique_id``, as Splink's is.

        On DuckDB the edges (two integers and a probability each) are solved in this process with SciPy, which
        takes seconds and a few hundred bytes per edge where Splink's iterated SQL spills tens of gigabytes at
        tens of millions of pairs; on Spark Splink's distributed connected components run over the same ids.
        """
        api = self.db_api
        nodes = api.query_sql(f"select unique_id, row_number() over (order by unique_id) as node_id "
                              f"from {self.sdfs[0].physical_name}")
        edges = api.query_sql(
            f"select a.node_id as node_l, b.node_id as node_r, p.match_probability from {predictions.physical_name} p "
            f"join {nodes.physical_name} a on a.unique_id = p.unique_id_l "
            f"join {nodes.physical_name} b on b.unique_id = p.unique_id_r "
            f"where p.match_probability >= {thresholds.low!r}")
        out = {}
        for band in BANDS:
            t = getattr(thresholds, band)
            if type(api).__name__ == "DuckDBAPI":
                cc = self._components_in_process(nodes, edges, t, f"__bold_cc_{band}_{uuid.uuid4().hex[:8]}")
            else:
                from splink.clustering import cluster_pairwise_predictions_at_threshold

                node_ids = api.query_sql(f"select node_id from {nodes.physical_name}")
                cc = cluster_pairwise_predictions_at_threshold(
                    node_ids, edges, db_api=api, node_id_column_name="node_id", edge_id_column_name_left="node_l",
                    edge_id_column_name_right="node_r", threshold_match_probability=t)
            out[band] = api.query_sql(
                f"select n.unique_id, r.unique_id as cluster_id from {cc.physical_name} c "
                f"join {nodes.physical_name} n on n.node_id = c.node_id "
                f"join {nodes.physical_name} r on r.node_id = c.cluster_id")
        return out

    def _components_in_process(self, nodes, edges, threshold: float, name: str):
        """``node_id`` -> ``cluster_id`` (the smallest node of its component) with SciPy, for DuckDB."""
        import numpy as np
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        con = self.db_api.duckdb_con
        n = con.sql(f"select count(*) from {nodes.physical_name}").fetchall()[0][0]
        e = con.sql(f"select node_l, node_r from {edges.physical_name} where match_probability >= {threshold!r}"
                    ).to_arrow_table()
        rows = e.column("node_l").to_numpy().astype(np.int64) - 1
        cols = e.column("node_r").to_numpy().astype(np.int64) - 1
        graph = coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(n, n))
        _, label = connected_components(graph, directed=False)
        order = np.arange(n, dtype=np.int64)
        smallest = np.full(label.max() + 1 if n else 0, n, np.int64)
        np.minimum.at(smallest, label, order)  # each component's smallest node
        table = pa.table({"node_id": order + 1, "cluster_id": smallest[label] + 1})
        return self.db_api.register(table, table_name=name)

    # ------------------------------------------------------------------ explanation
    def explain(self, left: Mapping[str, Any] | pa.Table, right: Mapping[str, Any] | pa.Table) -> Explanation:
        """The match-weight waterfall of one pair of standardised records (one-row Arrow tables, or dicts of
        standard columns)."""
        from splink.internals.charts import WaterfallChart
        from splink.internals.waterfall_chart import records_to_waterfall_data

        s = self.settings()
        s["retain_intermediate_calculation_columns"] = True
        explainer = Linker(self.sdfs if len(self.sdfs) > 1 else self.sdfs[0], s, log_level=self.log_level)
        tag = uuid.uuid4().hex[:8]
        recs = []
        for i, (rec, ds) in enumerate(((left, self.names[0]), (right, self.names[-1]))):
            t = rec if isinstance(rec, pa.Table) else self._one_row_table(dict(rec))
            if self.link_type != "dedupe_only" and "source_dataset" not in t.column_names:
                t = t.append_column("source_dataset", pa.array([ds] * t.num_rows, pa.string()))
            recs.append(self.db_api.register(t, table_name=f"__bold_explain_{i}_{tag}"))
        rec_l, rec_r = recs
        scored = explainer.inference.score_pair(rec_l, rec_r)
        records = scored.as_record_list()
        rows = records_to_waterfall_data(records[:1], explainer._settings_obj, False)
        chart = WaterfallChart(rows, True)
        return Explanation(rows=rows, chart_html=chart.to_html(inline=True),
                           match_weight=float(records[0]["match_weight"]),
                           match_probability=float(records[0]["match_probability"]))


    def _one_row_table(self, rec: dict[str, Any]) -> pa.Table:
        """A one-row Arrow table typed like the model's input (so that null values keep their column type)."""
        t = pa.Table.from_pylist([rec])
        con = getattr(self.db_api, "duckdb_con", None)
        if con is None:
            return t
        schema = con.sql(f"select * from {self.sdfs[0].physical_name} limit 0").to_arrow_table().schema
        cols = {}
        for name in t.column_names:
            col = t.column(name)
            if name in schema.names and col.type != schema.field(name).type:
                col = col.cast(schema.field(name).type)
            cols[name] = col
        return pa.table(cols)


@dataclass
class Explanation:
    """The waterfall of one pair: one row per comparison (prior, each identifier, term-frequency adjustments,
    final score) with the values compared, the level reached, m and u, and its match weight."""

    rows: list[dict[str, Any]]
    chart_html: str
    match_weight: float
    match_probability: float

    def table(self) -> list[dict[str, Any]]:
        out, cum = [], 0.0
        for r in self.rows:
            if r["column_name"] == "Final score":
                continue
            w = float(r["log2_bayes_factor"] or 0.0)
            cum += w
            out.append({
                "comparison": r["column_name"],
                "level": r["label_for_charts"],
                "value_left": r.get("value_l", ""),
                "value_right": r.get("value_r", ""),
                "m_probability": r.get("m_probability"),
                "u_probability": r.get("u_probability"),
                "match_weight": round(w, 4),
                "cumulative_match_weight": round(cum, 4),
            })
        out.append({"comparison": "Final score", "level": "", "value_left": "", "value_right": "",
                    "m_probability": None, "u_probability": None, "match_weight": round(self.match_weight, 4),
                    "cumulative_match_weight": round(self.match_weight, 4)})
        return out

    def html(self, title: str = "Why these two records were (not) linked") -> str:
        """A standalone HTML page: the waterfall table and the offline chart (JavaScript inline, no CDN)."""
        import html as h

        rows = "".join(
            "<tr>" + "".join(f"<td>{h.escape('' if v is None else str(v))}</td>" for v in r.values()) + "</tr>"
            for r in self.table())
        head = "".join(f"<th>{h.escape(k)}</th>" for k in self.table()[0])
        prob = f"{self.match_probability:.6f}"
        body = (f"<h1>{h.escape(title)}</h1><p>Match weight {self.match_weight:.2f}, match probability {prob}."
                f"</p><table border='1' cellspacing='0' cellpadding='4'><thead><tr>{head}</tr></thead>"
                f"<tbody>{rows}</tbody></table><h2>Waterfall</h2>")
        chart = self.chart_html
        idx = chart.lower().find("<body>")
        if idx >= 0:
            return chart[:idx + 6] + body + chart[idx + 6:]
        return f"<!doctype html><html><head><meta charset='utf-8'></head><body>{body}{chart}</body></html>"


@contextlib.contextmanager
def _duckdb_written_join_order(db_api: Any):
    """Keep the written join order while Splink's single-best-links clustering runs on DuckDB.

    DuckDB 2.0's join-order optimiser plans one step of that algorithm as a cross product of two node tables
    (nodes x nodes rows: 27 s for 10,000 nodes, hopeless at a million); the written order is a chain of hash
    joins (0.5 s). The setting is restored afterwards; other backends are untouched.
    """
    con = getattr(db_api, "duckdb_con", None) if type(db_api).__name__ == "DuckDBAPI" else None
    if con is None:
        yield
        return
    before = con.execute("select current_setting('disabled_optimizers')").fetchall()[0][0] or ""
    wanted = ",".join(x for x in {*filter(None, before.split(",")), "join_order"})
    con.execute(f"set disabled_optimizers = '{wanted}'")
    try:
        yield
    finally:
        con.execute(f"set disabled_optimizers = '{before}'")


def bayes_to_probability(weight: float) -> float:
    bf = 2.0 ** weight
    return bf / (1.0 + bf) if math.isfinite(bf) else 1.0


_ROUTE_ATTR = "_bold_splink_route"
_route: dict[str, Any] = {}


def route_splink_log(log_file: str | os.PathLike | None = None, *, verbose: bool = False) -> None:
    """Where Splink's own messages (its progress lines, its ``max_pairs`` advice) go: to ``log_file`` (appended;
    for a project, ``<project>/logs/splink.log``), to standard error with ``verbose``, else nowhere. Never into a
    command's own output: the handler replaces Splink's default one and the messages do not propagate."""
    lg = logging.getLogger("splink")
    for h in list(lg.handlers):
        if getattr(h, _ROUTE_ATTR, False) or getattr(h, "_splink_default_handler", False):
            lg.removeHandler(h)
            h.close()
    handler: logging.Handler
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
    elif log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file, encoding="utf-8", delay=True)
    else:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    setattr(handler, _ROUTE_ATTR, True)
    lg.addHandler(handler)
    lg.propagate = False
    _route.clear()
    _route.update(file=log_file, verbose=verbose)


def quiet_splink(level: int = logging.WARNING) -> None:
    """Splink logs every SQL step at INFO: keep it to ``level`` (INFO or lower shows Splink's messages on standard
    error) unless :func:`route_splink_log` sends them to a log file, which then receives them from INFO up."""
    lg = logging.getLogger("splink")
    if _route.get("file") is None:
        show = level <= logging.INFO
        if not any(getattr(h, _ROUTE_ATTR, False) for h in lg.handlers) or _route.get("verbose") != show:
            route_splink_log(verbose=show)
    lg.setLevel(min(level, logging.INFO) if _route.get("file") is not None else level)
