"""The conformance kit's runner and its reference adapter.

The full runs against our three verifiers are in tests/integration/conformance; here, the
reference's answer to every vector in-process, and the runner's protocol and report on small
vector sets with commands made for the purpose.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from cardformat import conformance
from cardformat.conformance import reference
from cardformat.conformance.__main__ import main

VECTORS = list(conformance.load_vectors(conformance.DEFAULT_VECTORS))


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: f"{v.kind}: {v.name}")
def test_the_reference_gives_every_vector_its_expected_result(
    vector: conformance.Vector,
) -> None:
    # What the adapter would print, computed in-process (the context as the file holds it).
    context = json.loads(json.dumps(vector.context))
    assert reference.answer(vector.kind, vector.stdin, context) == vector.expected


def test_every_kind_has_vectors_and_every_refusal_has_its_error_class() -> None:
    assert {v.kind for v in VECTORS} == set(conformance.KINDS)
    for kind, (filename, _) in conformance.KINDS.items():
        document = json.loads((conformance.DEFAULT_VECTORS / filename).read_text("utf-8"))
        assert document["schema"]["vectors"], filename
        for entry in document["vectors"]:
            refused = entry["expected"] not in {"valid", "stale"} and kind != "status"
            assert ("error" in entry) is refused, entry["name"]


def test_the_context_holds_no_answer() -> None:
    for vector in VECTORS:
        assert not {"expected", "error", "claims", "metadata"} & set(vector.context)
        assert vector.context["kind"] == vector.kind


def _vectors(tmp_path: Path, *expected: str) -> Path:
    cards = [
        {"name": f"v{i}", "text": "MC1:é", "now": "2026-01-01T00:00:00Z", "expected": code}
        for i, code in enumerate(expected)
    ]
    (tmp_path / "cards.json").write_text(json.dumps({"keys": [], "vectors": cards}), "utf-8")
    return tmp_path


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_each_difference_is_reported_and_the_exit_status_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = _vectors(tmp_path, "valid", "malformed")
    argv = ["--vectors", str(directory), "--kind", "card", "--", *_python("print('valid')")]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "DIFFERS  card: v1: expected malformed, got valid" in out
    assert "v0" not in out
    assert out.rstrip().endswith("1 of 2 vectors agree (card); 1 differ.")
    agreeing = _vectors(tmp_path, "valid")
    # Surrounding white space and further lines are not part of the answer.
    assert (
        main(
            [
                "--vectors",
                str(agreeing),
                "--kind",
                "card",
                "--",
                *_python("print(' valid '); print('x')"),
            ]
        )
        == 0
    )
    assert capsys.readouterr().out == "1 of 1 vectors agree (card); 0 differ.\n"


def test_the_reference_adapter_reads_the_kit_protocol(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vector = next(v for v in VECTORS if v.kind == "metadata" and v.expected == "stale")
    context = tmp_path / "context.json"
    context.write_text(json.dumps(vector.context), "utf-8")
    monkeypatch.setenv("CITYCARD_KIND", vector.kind)
    monkeypatch.setenv("CITYCARD_CONTEXT", str(context))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(vector.stdin)))
    assert reference.main() == 0
    assert capsys.readouterr().out == "stale\n"


def test_the_command_gets_the_token_on_stdin_and_the_context_in_the_environment(
    tmp_path: Path,
) -> None:
    probe = (
        "import json, os, sys; c = json.load(open(os.environ['CITYCARD_CONTEXT']));"
        "text = sys.stdin.buffer.read().decode();"
        "ok = (text == 'MC1:é' and c['kind'] == os.environ['CITYCARD_KIND'] == 'card'"
        " and os.environ['CITYCARD_NOW'] == c['now'] and c['keys'] == [] and 'expected' not in c);"
        "print('valid' if ok else 'wrong')"
    )
    (outcome,) = conformance.run(
        _python(probe), directory=_vectors(tmp_path, "valid"), kinds=["card"]
    )
    assert outcome.agrees, outcome.got


def test_a_command_that_prints_nothing_times_out_or_cannot_run_is_a_difference(
    tmp_path: Path,
) -> None:
    directory = _vectors(tmp_path, "valid")

    def got(command: list[str], timeout: float = 30) -> str:
        (outcome,) = conformance.run(command, directory=directory, kinds=["card"], timeout=timeout)
        assert not outcome.agrees
        return outcome.got

    assert got(_python("import sys; sys.exit('boom')")) == (
        "[nothing printed, exit status 1: boom]"
    )
    assert got(_python("import sys; sys.exit(3)")) == "[nothing printed, exit status 3]"
    assert got(_python("import time; time.sleep(5)"), timeout=0.5) == "[no answer within 0.5 s]"
    assert got([str(tmp_path / "no-such-verifier")]).startswith("[cannot run the command:")


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--"])
    assert exited.value.code == 2
    assert "give the verifier's command" in capsys.readouterr().err
