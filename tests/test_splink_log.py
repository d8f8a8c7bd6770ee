"""Splink's own messages (progress lines, max_pairs advice) go to the project's log file, or to standard error only
when asked, never into a command's output."""

from __future__ import annotations

import logging

from splink.internals.splink_logging import enable as splink_enable

from bold_prevention.linkage.splink_model import quiet_splink, route_splink_log


def _say(level: int, text: str) -> None:
    logging.getLogger("splink.internals.estimate_u").log(level, text)


def test_splink_messages_go_to_the_log_file(tmp_path, capsys):
    log = tmp_path / "logs" / "splink.log"
    try:
        route_splink_log(log)
        splink_enable(logging.INFO)  # what Linker(log_level=INFO) does: it must not add its own stderr handler
        quiet_splink(logging.ERROR)
        _say(logging.INFO, "Estimating u probabilities using random sampling")
        _say(logging.WARNING, "You are using the default value for max_pairs, which may be too small")
        out = capsys.readouterr()
        assert "max_pairs" not in out.out + out.err and "Estimating" not in out.out + out.err
        text = log.read_text()
        assert "max_pairs" in text and "Estimating u probabilities" in text
    finally:
        route_splink_log()


def test_splink_messages_are_silent_by_default_and_shown_when_verbose(capsys):
    try:
        quiet_splink()
        _say(logging.WARNING, "max_pairs advice")
        out = capsys.readouterr()
        assert "max_pairs" not in out.out + out.err
        quiet_splink(logging.INFO)  # `bold link --verbose`
        _say(logging.INFO, "shown when verbose")
        assert "shown when verbose" in capsys.readouterr().err
    finally:
        route_splink_log()
