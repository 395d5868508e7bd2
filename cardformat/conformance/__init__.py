"""The conformance kit: every test vector of the card format, fed to any verifier.

``python -m cardformat.conformance -- COMMAND ARGS...`` runs COMMAND once per vector, with the
token on standard input and the rest of the vector (keys, time, expectations of context) in a
JSON file named by the environment, reads the result code the command prints, and reports each
one that differs from the vector's. docs/conformance.md is the partner's guide; the protocol is
defined here once, in ``run_vector``.

Standard library only, like the rest of the package's imports allow: a partner runs it with any
Python 3.11 and no dependency beyond what cardformat itself needs.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The vector files, by kind, and the field of each vector that holds what goes on stdin.
KINDS = {
    "card": ("cards.json", "text"),
    "metadata": ("metadata.json", "document"),
    "status-list": ("status-lists.json", "token"),
    "status": ("status-decisions.json", "text"),
    "network": ("network.json", "document"),
}
# Fields that are the answer, not the context: never shown to the command.
_ANSWER_FIELDS = frozenset({"expected", "error", "claims", "metadata"})
DEFAULT_VECTORS = Path(__file__).resolve().parents[2] / "tests" / "vectors"


@dataclass(frozen=True, slots=True)
class Vector:
    kind: str
    name: str
    stdin: bytes
    context: dict[str, Any]
    expected: str


@dataclass(frozen=True, slots=True)
class Outcome:
    vector: Vector
    got: str  # the code printed, or a description of what went wrong in brackets

    @property
    def agrees(self) -> bool:
        return self.got == self.vector.expected


def load_vectors(directory: Path, kinds: Iterable[str] = KINDS) -> Iterator[Vector]:
    """Every vector of the given kinds, in file order."""
    for kind in kinds:
        filename, field = KINDS[kind]
        document = json.loads((directory / filename).read_text(encoding="utf-8"))
        for entry in document["vectors"]:
            payload = entry[field]
            stdin = payload.encode("utf-8") if field == "text" else bytes.fromhex(payload)
            context = {k: v for k, v in entry.items() if k not in _ANSWER_FIELDS and k != field}
            context["kind"] = kind
            if "keys" in document:
                context["keys"] = document["keys"]
            yield Vector(kind, entry["name"], stdin, context, entry["expected"])


def run_vector(vector: Vector, command: Sequence[str], *, workdir: Path, timeout: float) -> Outcome:
    """Run the command on one vector: the protocol of docs/conformance.md.

    Standard input: the token (a card's text in UTF-8, exactly; a document's raw bytes).
    Environment: CITYCARD_KIND, CITYCARD_NOW (RFC 3339), CITYCARD_CONTEXT (a JSON file: the
    vector without its answer). Standard output: the result code on the first line.
    """
    with tempfile.NamedTemporaryFile(
        "w", suffix=".json", dir=workdir, delete=False, encoding="utf-8"
    ) as handle:
        json.dump(vector.context, handle, ensure_ascii=False)
    environment = os.environ | {
        "CITYCARD_KIND": vector.kind,
        "CITYCARD_NOW": vector.context["now"],
        "CITYCARD_CONTEXT": handle.name,
    }
    try:
        result = subprocess.run(
            list(command),
            input=vector.stdin,
            capture_output=True,
            env=environment,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Outcome(vector, f"[no answer within {timeout:g} s]")
    except OSError as exc:
        return Outcome(vector, f"[cannot run the command: {exc.strerror}]")
    finally:
        os.unlink(handle.name)
    lines = result.stdout.decode("utf-8", "replace").strip().splitlines()
    if not lines:
        error = result.stderr.decode("utf-8", "replace").strip().splitlines()
        tail = f": {error[-1]}" if error else ""
        return Outcome(vector, f"[nothing printed, exit status {result.returncode}{tail}]")
    return Outcome(vector, lines[0].strip())


def run(
    command: Sequence[str],
    *,
    directory: Path = DEFAULT_VECTORS,
    kinds: Iterable[str] = KINDS,
    jobs: int = 1,
    timeout: float = 30.0,
) -> list[Outcome]:
    """Every vector through the command, in file order (``jobs`` at a time)."""
    vectors = list(load_vectors(directory, kinds))
    with (
        tempfile.TemporaryDirectory(prefix="citycard-conformance-") as workdir,
        ThreadPoolExecutor(max_workers=max(1, jobs)) as pool,
    ):
        return list(
            pool.map(
                lambda v: run_vector(v, command, workdir=Path(workdir), timeout=timeout),
                vectors,
            )
        )


def report(outcomes: Sequence[Outcome]) -> str:
    """One line per differing result, then a summary line."""
    lines = [
        f"DIFFERS  {o.vector.kind}: {o.vector.name}: expected {o.vector.expected}, got {o.got}"
        for o in outcomes
        if not o.agrees
    ]
    differing = len(lines)
    kinds = sorted({o.vector.kind for o in outcomes})
    lines.append(
        f"{len(outcomes) - differing} of {len(outcomes)} vectors agree "
        f"({', '.join(kinds) or 'no kinds'}); {differing} differ."
    )
    return "\n".join(lines)
