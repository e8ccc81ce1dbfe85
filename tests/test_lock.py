"""The lock `make run` and `make test` install from pins every dependency, within pyproject.toml's ranges."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / ".ci" / "constraints.txt"


def _pins() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"{LOCK.name}: not an exact pin: {line!r}"
            pins[canonicalize_name(name)] = Version(version)
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = [r for group in project.get("optional-dependencies", {}).values() for r in group]
    return [Requirement(r) for r in [*project["dependencies"], *extras]]


def test_every_declared_dependency_is_pinned_within_its_range() -> None:
    pins = _pins()
    problems = [
        f"{req.name}: {'not in the lock' if name not in pins else f'{pins[name]} outside {req.specifier}'}"
        for req in _declared()
        if (name := canonicalize_name(req.name)) not in pins or not req.specifier.contains(pins[name], prereleases=True)
    ]
    assert not problems, f"run `make lock`: {problems}"


def test_the_lock_leaves_out_mentiondesk_and_keeps_torch_at_the_cpu_build_on_disk() -> None:
    pins = _pins()
    assert "mentiondesk" not in pins
    assert pins["torch"] == Version("2.13.0")
