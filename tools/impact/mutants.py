"""mutmut's mutants of the services' code, as plain edits (one changed file each), sampled with a seed.

The same generator `nox -s mutation` runs (mutmut's `create_mutations`), keeping the
mutants mutmut itself would run: those inside a function that isn't decorated.
"""

from __future__ import annotations

import contextlib
import os
import random
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SERVICE_CODE = "services/*/src/*/*.py"


@dataclass(frozen=True)
class Mutant:
    """One mutant: the file (repository path), its mutated text, and a name for reports."""

    name: str
    path: str
    text: str


@contextlib.contextmanager
def _mutmut_config() -> Iterator[None]:
    """mutmut reads its configuration from the working folder: give it a minimal one."""
    here = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="impact-mutmut-") as folder:
        Path(folder, "pyproject.toml").write_text('[tool.mutmut]\nsource_paths = ["src"]\n')
        Path(folder, "src").mkdir()
        os.chdir(folder)
        try:
            yield
        finally:
            os.chdir(here)


def sample(root: Path, count: int, seed: int) -> list[Mutant]:
    """`count` mutants drawn with `seed` (the same every run), in file order."""
    import libcst as cst
    from mutmut.mutation.file_mutation import create_mutations

    with _mutmut_config():
        parsed = {}
        candidates = []
        for source in sorted(root.glob(SERVICE_CODE)):
            code = source.read_text()
            module, mutations, _, _ = create_mutations(str(source), code)
            parsed[source] = (code, module, mutations)
            for number, mutation in enumerate(mutations):
                function = mutation.contained_by_top_level_function
                if isinstance(function, cst.FunctionDef | cst.ClassDef) and not function.decorators:
                    candidates.append((source, number, function.name.value))  # mutmut runs only these
    chosen = sorted(random.Random(seed).sample(candidates, min(count, len(candidates))))
    found = []
    for source, number, function_name in chosen:
        code, module, mutations = parsed[source]
        mutation = mutations[number]
        mutated = module.deep_replace(mutation.original_node, mutation.mutated_node)
        text = mutated.code if isinstance(mutated, cst.Module) else code
        if text != code:
            path = source.relative_to(root).as_posix()
            found.append(Mutant(f"{path}:{function_name}#{number}", path, text))
    return found
