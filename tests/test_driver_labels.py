"""One set of driver labels: the register's names, shown the same by the glossary, the reports and the web page."""

from __future__ import annotations

import yaml

from bold_prevention.app.person_extras import DRIVER_LABELS, driver_label
from bold_prevention.app.released import heading
from bold_prevention.datafirst.glossary import DRIVERS, GLOSSARY
from bold_prevention.register import DRIVERS as REGISTER_DRIVERS
from bold_prevention.register import default_register_path, driver_labels, load_register, parse_register


def test_every_driver_has_one_label_everywhere():
    reg = load_register()
    labels = driver_labels()
    assert set(labels) == {e.id for e in reg.drivers} >= set(REGISTER_DRIVERS)
    for d, name in labels.items():
        assert reg.entry(d).name == name
        assert DRIVERS[d] == name == GLOSSARY.driver(d)
        assert DRIVER_LABELS[d] == driver_label(d) == heading(d) == name
    assert set(DRIVERS) == set(labels)


def test_a_custom_register_names_its_own_drivers():
    raw = yaml.safe_load(default_register_path().read_text(encoding="utf-8"))
    for e in raw["entries"]:
        if e["id"] == "family":
            e["name"] = "Family life"
    labels = driver_labels(parse_register(raw))
    assert labels["family"] == "Family life"
    assert driver_labels()["family"] == DRIVERS["family"] != "Family life"  # the shipped register is untouched
