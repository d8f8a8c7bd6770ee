"""The OASys tables of the Data First model agree with the published OASys catalogue list.

``catalogue/data/oasys_reference.csv`` lists the variables documented for ``OASys_ONS_data_catalogue_NOV25_External.ods``
(table, name, description, values). Every one of them is in the model under the same name, with the same
description and value coding, tagged ``confirmed``; the model's other OASys items are tagged ``inferred`` and use
no published name.
"""

from __future__ import annotations

import re

import pytest

from bold_prevention.catalogue.values import parse_values
from bold_prevention.catalogue.writer import reference_oasys_rows
from bold_prevention.datafirst import MODEL
from bold_prevention.synth import NEEDS, OASYS_PROXY_RULES

REFERENCE = reference_oasys_rows()
PUBLISHED = {(t, v) for t, v, _, _ in REFERENCE}
OASYS = [t for t in MODEL.tables if t.dataset == "oasys"]
CORE = "oasys_assessments_details_core_risk"


@pytest.mark.parametrize(("table", "variable", "description", "values"), REFERENCE,
                         ids=[f"{t}.{v}" for t, v, _, _ in REFERENCE])
def test_every_published_variable_is_in_the_model_as_published(table, variable, description, values):
    col = MODEL.table(table).column(variable)
    assert col.confidence == "confirmed"
    assert col.description == description
    spec = parse_values(values)
    if spec.codes:
        assert col.codes is not None and col.codes.values == tuple(c for c, _ in spec.codes)
    elif spec.value_range is not None:
        assert col.dtype == "int" and col.value_range == spec.value_range
    elif spec.value_format is not None:
        assert col.dtype == "date"
    elif values:
        # described only in words ("coded categories ...", "drug code (see drug_lookup)"): a code list is needed
        assert col.codes is not None


def test_other_oasys_items_are_inferred_and_use_no_published_name():
    published_names = {v for _, v in PUBLISHED}
    # item families whose members the published list enumerates: an invented member would look real
    families = ("question_2_3_", "question_2_9_", "question_8_2_", "question_10_7_", "question_13_3_")
    extra = [(t.name, c) for t in OASYS for c in t.columns
             if c.name.startswith("question_") and (t.name, c.name) not in PUBLISHED]
    assert extra, "the model adds inferred items where the published list has none"
    for table, c in extra:
        assert c.confidence == "inferred", f"{table}.{c.name}"
        assert c.name not in published_names, f"{table}.{c.name} reuses a published name"
        assert not c.name.startswith(families), f"{table}.{c.name} is inside a published item family"
    assert {c.name for _, c in extra} >= {"question_4_2", "question_4_7", "question_6_1", "question_6_7_da_victim"}


def test_proxy_rules_read_published_variables_where_the_list_has_them():
    core = MODEL.table(CORE)
    assert set(OASYS_PROXY_RULES) == set(NEEDS)
    read = {d: set(re.findall(r"question_[0-9a-z_]+", rule)) for d, rule in OASYS_PROXY_RULES.items()}
    for d, names in read.items():
        assert names <= set(core.column_names), d
    published = {d for d, names in read.items() if all((CORE, n) in PUBLISHED for n in names)}
    assert published == {"accommodation", "low_income", "substance_misuse", "mental_health", "physical_health"}
