"""The one findings model: the same fields, text and report path for every check."""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_dbmatrix.errors import cut
from pytest_dbmatrix.findings import Finding, FindingLog, FindingsFailure, attach, received

LOSS = Finding("data-loss", "data_preserved", "mysql", "2 rows lost", "mysql", "users", "email",
               "r07", details={"rows": 2})
DRIFT = Finding("model-drift", "model_match", "sqlite", "add_column users.age", "sqlite")


def test_line_names_hazard_place_revision_backend_and_values() -> None:
    assert LOSS.line() == "[data-loss] users.email at r07 on mysql: 2 rows lost"
    assert DRIFT.line() == "[model-drift] on sqlite: add_column users.age"
    revision_only = Finding("sqlite-alter", "upgrade", "sqlite", "no ALTER", revision="r04")
    assert revision_only.line() == "[sqlite-alter] at r04 on sqlite: no ALTER"
    values = Finding("datetime-precision", "live", "mysql", "changed", "mysql", "t", "c",
                     before="1.5", after="1")
    assert values.line() == "[datetime-precision] t.c on mysql: changed (wrote 1.5, read 1)"


def test_a_finding_crosses_processes_as_plain_json() -> None:
    data = json.loads(json.dumps(LOSS.as_dict()))
    assert data["hazard"] == "data-loss" and data["check"] == "data_preserved"
    assert data["hint"] == LOSS.hint
    assert Finding.from_dict(data) == LOSS
    report = SimpleNamespace()
    attach(report, [LOSS, DRIFT])
    assert received(report) == [LOSS, DRIFT]
    assert received(SimpleNamespace()) == []


def test_every_finding_has_a_fix() -> None:
    with pytest.raises(ValueError, match=r"no entry in catalogue\.py"):
        Finding("not-a-hazard", "static", "sqlite", "made up")
    assert LOSS.hint and DRIFT.hint


def test_the_failure_lists_findings_then_each_fix_once_then_context() -> None:
    twice = Finding("data-loss", "data_preserved", "mysql", "1 row lost", "mysql", "users", "name",
                    "r07")
    text = FindingsFailure([LOSS, twice], [("revision", "r07 add email")]).render().splitlines()
    assert text[:2] == [LOSS.labelled(), twice.labelled()]
    assert text[0] == f"error {LOSS.line()}"
    assert text[2] == f"fix (data-loss): {LOSS.hint}"
    assert text[3:] == ["--- revision ---", "r07 add email"]
    assert isinstance(FindingsFailure([LOSS]), AssertionError)


def test_the_log_keeps_one_finding_per_hazard_check_place_and_backend() -> None:
    log = FindingLog()
    again = Finding("data-loss", "data_preserved", "mysql", "other text", "mysql", "users",
                    "email", "r07")
    elsewhere = dataclasses.replace(again, backend="mariadb")
    log.add([LOSS, again, elsewhere, DRIFT])
    assert [f.backend for f in log.sorted()] == ["sqlite", "mariadb", "mysql"]
    assert log.as_json()["by_hazard"] == {"data-loss": 2, "model-drift": 1}


@given(st.lists(st.text(alphabet="abcé(),'", min_size=1, max_size=12), max_size=60),
       st.integers(min_value=10, max_value=120))
def test_a_cut_message_never_ends_mid_word(words: list[str], limit: int) -> None:
    text = " ".join(words)
    shown = cut(text, limit)
    assert len(shown) <= limit
    if shown != text:
        kept = shown.removesuffix(" ...")
        assert shown.endswith(" ...") and text.startswith(kept)
        if " " in text[:limit - 4]:
            assert text[len(kept)] == " ", "the cut falls between words"
