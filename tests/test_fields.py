"""The classified fields are declared once (triage/fields.py); everything that must agree with that
list is checked here, so a field added in one place and not the other fails."""

from __future__ import annotations

from triage import fields
from triage.adapters.export import TICKET_COLUMNS
from triage.adapters.llm.schema import Claim, FieldGuess, TriageResult
from triage.models import TaxonomyField, Ticket


def test_the_lists_nest():
    assert fields.CLASSIFIED_FIELDS[: len(fields.TAXONOMY_FIELDS)] == fields.TAXONOMY_FIELDS
    assert fields.REVIEWED_FIELDS[: len(fields.CLASSIFIED_FIELDS)] == fields.CLASSIFIED_FIELDS
    assert set(fields.REVIEWED_FIELDS) - set(fields.CLASSIFIED_FIELDS) == {"summary"}
    every = [*fields.REVIEWED_FIELDS, *fields.REPORT_FIELDS]
    assert len(every) == len(set(every))


def test_taxonomy_fields_are_the_taxonomy_choices():
    assert list(fields.TAXONOMY_FIELDS) == [choice.value for choice in TaxonomyField]


def test_every_reviewed_field_is_a_ticket_column():
    columns = {f.name for f in Ticket._meta.get_fields()}
    assert set(fields.REVIEWED_FIELDS) <= columns


def test_the_model_reply_carries_every_field():
    schema = TriageResult.model_fields
    for name in fields.CLASSIFIED_FIELDS:
        assert schema[name].annotation is FieldGuess, name
    assert schema["summary"].annotation is str
    for name in fields.REPORT_FIELDS:
        assert Claim in getattr(schema[name].annotation, "__args__", ()), name
    # a FieldGuess in the reply that no list names would never be stored or reviewed
    guesses = {name for name, info in schema.items() if info.annotation is FieldGuess}
    assert guesses == set(fields.CLASSIFIED_FIELDS)


def test_the_export_has_three_columns_per_classified_field():
    keys = [c.key for c in TICKET_COLUMNS]
    for name in fields.CLASSIFIED_FIELDS:
        assert {f"proposed_{name}", f"confidence_{name}", f"final_{name}"} <= set(keys), name


def test_every_column_the_type_checker_is_told_of_is_a_declared_field():
    """models.Ticket tells mypy of the loop-made columns that code reads as attributes."""
    import ast
    import inspect
    import sys

    tree = ast.parse(inspect.getsource(sys.modules[Ticket.__module__]))
    ticket = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Ticket")
    hints = [
        stmt.target.id
        for node in ticket.body
        if isinstance(node, ast.If)
        for stmt in node.body
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
    ]
    assert hints, "the TYPE_CHECKING block moved: update this test"
    assert set(hints) <= set(fields.CLASSIFIED_FIELDS)


def _string_literals(tree):
    """(line, strings) for every tuple, list, set and dict-keys literal in `tree`."""
    import ast

    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            elements = node.keys
        elif isinstance(node, ast.Tuple | ast.List | ast.Set):
            elements = node.elts
        else:
            continue
        yield (
            node.lineno,
            {e.value for e in elements if isinstance(e, ast.Constant) and isinstance(e.value, str)},
        )


def _second_lists(code: str) -> list[int]:
    import ast

    every = set(fields.TAXONOMY_FIELDS)
    return [line for line, strings in _string_literals(ast.parse(code)) if every <= strings]


def test_no_module_declares_its_own_list_of_classified_fields():
    """A literal naming every taxonomy field anywhere but triage/fields.py is a second list: a tuple
    ("category", "priority", ...) or a dict keyed by them ({"category": taxonomy.categories, ...})."""
    import pathlib

    root = pathlib.Path(fields.__file__).parent
    found = [
        f"{path.relative_to(root)}:{line}"
        for path in sorted(root.rglob("*.py"))
        if path.name != "fields.py" and "migrations" not in path.parts
        for line in _second_lists(path.read_text())
    ]
    assert found == []


def test_the_literal_check_finds_a_second_list():
    names = fields.TAXONOMY_FIELDS
    as_tuple = f"A = {names!r}"
    as_dict = "B = {" + ", ".join(f"{n!r}: {i}" for i, n in enumerate(names)) + "}"
    assert _second_lists(as_tuple) == [1]
    assert _second_lists(as_dict) == [1]
    assert _second_lists(f"C = {names[:-1]!r}") == []  # a few fields, named for what they do


# A taxonomy field declared in triage/fields.py and nowhere else, checked in a fresh interpreter
# (the Ticket columns, the reply schema and the Taxonomy are built from the declarations at import).
_EXTRA_FIELD = """    ClassifiedField(
        "impact",
        "Impact",
        asks="how many customers it hurts",
        describes="how many customers it hurts",
        plural="impacts",
        defaults=(("minor", "Minor"), ("major", "Major"), ("critical", "Critical")),
    ),
"""

_PROBE = r"""
import json, os, sys, types
from pathlib import Path

source = Path("triage/fields.py").read_text()
anchor = '    ClassifiedField(\n        "language",'
assert anchor in source, "the language declaration moved: update the probe"
module = types.ModuleType("triage.fields")
module.__file__ = str(Path("triage/fields.py").resolve())
sys.modules["triage.fields"] = module
exec(compile(source.replace(anchor, sys.argv[1] + anchor), module.__file__, "exec"), module.__dict__)

os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
import django

django.setup()

from triage.adapters.export import TICKET_COLUMNS
from triage.adapters.llm.base import TicketInput
from triage.adapters.llm.evaluation import taxonomy_dump
from triage.adapters.llm.local import LocalTriageModel
from triage.adapters.llm.prompt import system_prompt
from triage.adapters.llm.schema import parse_triage_reply, result_json_schema
from triage.api.reports import TaxonomyOut
from triage.forms import ReviewForm
from triage.models import TaxonomyField, Ticket
from triage.schemas import TicketOut, TicketSummaryOut
from triage.taxonomy_defaults import taxonomy_from_rows

taxonomy = taxonomy_from_rows()
guess = {"value": "", "confidence": 0.9}
reply = {"summary": "s", "language": {**guess, "value": "en"}, "impact": {"value": "Major", "confidence": 0.4}}
for name in module.TAXONOMY_FIELDS:
    reply.setdefault(name, {**guess, "value": taxonomy.values(name)[0]})
result = parse_triage_reply(json.dumps(reply), taxonomy=taxonomy)
local = LocalTriageModel().triage(TicketInput(ticket_id=1, subject="Checkout fails", body="Error 500"), taxonomy)
schema = result_json_schema(taxonomy)
print(json.dumps({
    "column": Ticket._meta.get_field("impact").max_length,
    "choice": [c.value for c in TaxonomyField],
    "values": list(taxonomy.values("impact")),
    "dump": "impact" in taxonomy_dump(taxonomy),
    "prompt": "impact (how many customers it hurts)" in system_prompt(taxonomy),
    "required": schema["required"],
    "enum": schema["properties"]["impact"]["properties"]["value"]["enum"],
    "parsed": [result.impact.value, result.min_confidence],
    "local": local.result.impact.value if local.result else local.error_message,
    "form": list(ReviewForm(choices={}).fields),
    "api": ["impact" in m.model_fields for m in (TaxonomyOut, TicketOut, TicketSummaryOut)],
    "export": [c.key for c in TICKET_COLUMNS if c.key.endswith("_impact")],
}))
"""


def test_a_field_declared_in_fields_py_alone_reaches_every_consumer():
    import json
    import pathlib
    import subprocess
    import sys

    root = pathlib.Path(fields.__file__).parent.parent
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, _EXTRA_FIELD],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["column"] == 64
    assert seen["choice"] == [*fields.TAXONOMY_FIELDS, "impact"]
    assert seen["values"] == ["minor", "major", "critical"]  # the declared defaults, no rows needed
    assert seen["dump"] and seen["prompt"]
    assert seen["required"] == ["summary", *fields.TAXONOMY_FIELDS, "impact", "language"]
    assert seen["enum"] == ["minor", "major", "critical"]
    assert seen["parsed"] == ["major", 0.4]  # the label is read as its value; the lowest confidence
    assert seen["local"] in {"minor", "major", "critical"}
    assert seen["form"] == [*fields.TAXONOMY_FIELDS, "impact", "language", "summary"]
    assert seen["api"] == [True, True, True]
    assert seen["export"] == ["proposed_impact", "confidence_impact", "final_impact"]
