"""Stage 1: YAML -> documents, with every error located in the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import ProcessError, load_document, load_process
from engine.schema import DistrictOverride
from tests.conftest import MINI, MINI_PATH, OVERRIDE, Writer


def line_of(text: str, line: str) -> int:
    return text.splitlines().index(line) + 1


def errors(path: Path) -> list[str]:
    with pytest.raises(ProcessError) as info:
        load_process(path)
    return [str(f) for f in info.value.findings]


def test_minimal_process_loads_with_conditions_parsed(write: Writer) -> None:
    doc = load_process(write(MINI))
    when = doc.steps["intake"].transitions()["advice"].when
    assert str(when.ast) == "risk_level == 'high'"  # type: ignore[union-attr]


def test_duplicate_key_is_an_error_naming_both_lines(write: Writer) -> None:
    path = write("a: 1\nb: 2\na: 3\n")
    assert errors(path) == [f"{path}:3:1: a: duplicate key 'a' (first defined at line 1)"]


def test_anchor_is_refused_before_expansion(write: Writer) -> None:
    path = write("a: &x [1, 2]\nb: *x\n")
    assert errors(path) == [f"{path}:1:4: a: anchors are not allowed (&x); write the value out in full"]


def test_billion_laughs_is_refused_quickly(write: Writer) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    path = write("\n".join(lines) + "\n")
    assert "anchors are not allowed" in errors(path)[0]


def test_yaml_1_1_booleans_stay_strings_and_strict_models_refuse_them(write: Writer) -> None:
    path = write(MINI.replace("    guaranteed: true\n", "    guaranteed: no\n"))
    (message,) = errors(path)
    assert message.endswith("steps.advice.guaranteed: Input should be a valid boolean (found 'no')")


def test_syntax_error_gives_line_and_column(write: Writer) -> None:
    path = write("process:\n  id: [mini\n")
    (message,) = errors(path)
    assert message.startswith(f"{path}:3:1: (document): YAML syntax:")


def test_unknown_key_suggests_the_right_one(write: Writer) -> None:
    path = write(MINI.replace("    guaranteed: true\n", "    guaranted: true\n"))
    (message,) = errors(path)
    line = line_of(MINI, "    guaranteed: true")
    assert message == f"{path}:{line}:5: steps.advice.guaranted: unknown key 'guaranted'; did you mean 'guaranteed'?"


def test_missing_key_points_at_the_parent(write: Writer) -> None:
    path = write(MINI.replace("    phase: support\n", ""))
    line = line_of(MINI, "  advice:")
    assert errors(path) == [f"{path}:{line}:3: steps.advice.phase: missing required key 'phase'"]


def test_all_schema_errors_are_reported_in_one_pass(write: Writer) -> None:
    text = MINI.replace("    phase: support\n", "").replace("    role: intake\n    deadline", "    role: Intake\n    deadline")
    assert len(errors(write(text))) == 2


def test_every_integer_fact_declares_its_range_and_every_list_its_length(write: Writer) -> None:
    age = "  age: {type: integer, label: Ålder, min: 0, max: 120}"
    children = "    label: Barn\n    max_items: 15\n"
    text = MINI.replace(age, "  age: {type: integer, label: Ålder, max: 120}").replace(children, "    label: Barn\n")
    path = write(text)
    assert errors(path) == [
        f"{path}:{line_of(text, '  age: {type: integer, label: Ålder, max: 120}')}:3: facts.age: "
        "every integer fact declares its range: give 'min' and 'max'",
        f"{path}:{line_of(text, '  children:')}:3: facts.children: "
        "every list fact declares how many items it may hold: give 'max_items'",
    ]


@pytest.mark.parametrize(
    ("fact", "message"),
    [
        ("{type: integer, label: Ålder, min: 5, max: 1}", "'min' is greater than 'max'"),
        ("{type: boolean, label: Ålder, min: 0, max: 1}", "'min' and 'max' belong to integer facts, not boolean"),
        ("{type: integer, label: Ålder, min: 0, max: 9, max_items: 3}", "'max_items' belongs to list facts, not integer"),
        ("{type: integer, label: Ålder, min: '0', max: 9}", "Input should be a valid integer (found '0')"),
    ],
)
def test_ranges_belong_to_the_facts_they_bound(write: Writer, fact: str, message: str) -> None:
    path = write(MINI.replace("{type: integer, label: Ålder, min: 0, max: 120}", fact))
    (found,) = errors(path)
    assert found.endswith(message)


def test_steps_declare_their_outcomes_and_a_closing_step_has_its_reason(write: Writer) -> None:
    text = MINI.replace(
        "    intervention: advice\n", "    intervention: advice\n    outcomes: {given: Rådgivning given, declined: Avböjd}\n"
    )
    assert load_process(write(text)).steps["advice"].allowed_outcomes() == ["given", "declined"]
    assert load_process(write(MINI)).steps["closed"].allowed_outcomes() == ["needs_met"]
    path = write(MINI.replace("    closure_reason: needs_met\n", "    closure_reason: needs_met\n    outcomes: {met: Klart}\n"))
    (message,) = errors(path)
    assert message.endswith("steps.closed: a closing step's outcome is its closure_reason: leave out 'outcomes'")


def test_condition_syntax_error_points_at_the_character(write: Writer) -> None:
    path = write(MINI.replace("risk_level == 'high'", "risk_level = 'high'"))
    line = line_of(MINI, "      advice: {when: \"risk_level == 'high'\"}")
    col = len('      advice: {when: "risk_level ') + 1
    assert errors(path) == [
        f"{path}:{line}:{col}: steps.intake.next.advice.when: condition: unexpected character '=' (compare with ==)"
    ]


def test_unknown_fact_in_condition_suggests_the_declared_one(write: Writer) -> None:
    path = write(MINI.replace("risk_level == 'high'", "risk_levl == 'high'"))
    (message,) = errors(path)
    assert message.endswith(
        "steps.intake.next.advice.when: unknown fact 'risk_levl' (not in the facts vocabulary); did you mean 'risk_level'?"
    )


def test_unknown_enum_value_in_condition_is_an_error(write: Writer) -> None:
    path = write(MINI.replace("risk_level == 'high'", "risk_level == 'hgih'"))
    (message,) = errors(path)
    assert "'hgih' is not a value of Risknivå (low, medium, high); did you mean 'high'?" in message


def test_comparing_a_number_with_text_is_an_error(write: Writer) -> None:
    path = write(MINI.replace("risk_level == 'high'", "age >= 'old'"))
    (message,) = errors(path)
    assert "'>=' compares numbers or dates, not integer and text" in message


def test_child_fields_outside_a_per_child_step_are_an_error(write: Writer) -> None:
    path = write(MINI.replace("risk_level == 'high'", "child.age > 12"))
    (message,) = errors(path)
    assert "'child.' can only be used in a step repeated per child" in message


def test_quantifier_body_reads_item_fields(write: Writer) -> None:
    load_process(write(MINI.replace("risk_level == 'high'", "any(children, witnessed_violence and age < 18)")))
    path = write(MINI.replace("risk_level == 'high'", "any(children, witnesed_violence)"))
    (message,) = errors(path)
    assert "unknown fact 'witnesed_violence' (not in a list item); did you mean 'witnessed_violence'?" in message


def test_override_is_told_apart_by_its_top_level_key(write: Writer) -> None:
    assert isinstance(load_document(write(OVERRIDE)), DistrictOverride)


def test_file_that_is_neither_kind_is_refused(write: Writer) -> None:
    with pytest.raises(ProcessError, match="not a process file"):
        load_document(write("hello: world\n"))


def test_empty_file_is_refused(write: Writer) -> None:
    with pytest.raises(ProcessError, match="the file is empty"):
        load_document(write(""))


def test_an_alias_is_refused_where_it_is_written(write: Writer) -> None:
    from engine.load import read_yaml

    with pytest.raises(ProcessError) as info:
        read_yaml("x.yaml", "a: 1\nb: [*x]\n")
    assert str(info.value).startswith("x.yaml:2:5: ")


def test_a_second_document_is_refused(write: Writer) -> None:
    path = write("a: 1\n---\nb: 2\n")
    assert errors(path) == [f"{path}:2:1: (document): one YAML document per file: remove the second '---'"]


def test_explicit_tags_are_refused(write: Writer) -> None:
    path = write("a: !!python/object:os.system ls\n")
    (message,) = errors(path)
    assert "tags are not allowed" in message


# --- the central process's city-wide units ------------------------------------------

CITY = (MINI_PATH.parent / "city.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "  rvc_syd: {label: RVC Syd, kind: rvc}",
            "  rvc_syd: {label: RVC Syd}",
            "units.rvc_syd: the central process declares city-wide units only (kind 'city' or 'rvc', not 'district'); "
            "a district declares its own units",
        ),
        (
            "  rvc_syd: {label: RVC Syd, kind: rvc}",
            "  rvc: {label: RVC Syd, kind: rvc}",
            "units.rvc: 'rvc' stands for the district's RVC in bindings; give the unit another id",
        ),
        (
            "  after_hours: socialjouren",
            "  after_hours: socialjour",
            "bindings.after_hours: unknown unit 'socialjour' (not declared under units); did you mean 'socialjouren'?",
        ),
        (
            "  after_hours: socialjouren",
            "  after_hour: socialjouren",
            "bindings.after_hour: unknown role 'after_hour'; did you mean 'after_hours'?",
        ),
        (
            "  support_conversations_provider: rvc\n",
            "  support_conversations_provider: rvc_norr\n",
            "bindings.support_conversations_provider: 'rvc_norr' serves some districts only; "
            "bind the role to 'rvc', each district's own RVC",
        ),
    ],
)
def test_the_central_units_are_city_wide_and_its_bindings_name_them(write: Writer, old: str, new: str, message: str) -> None:
    text = CITY.replace(old, new)
    path = write(text)
    line = line_of(text, new.rstrip("\n"))
    column = len(new) - len(new.lstrip()) + 1
    assert errors(path) == [f"{path}:{line}:{column}: {message}"]
    with pytest.raises(ProcessError):
        load_document(path)  # the pipeline's way in refuses it too
