"""Developer sessions: ``nox`` runs tests, lint, typecheck and docs; ``nox -s bench`` the
benchmarks. Each session installs carecast with its test extra into its own virtualenv."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "docs"]
nox.options.reuse_existing_virtualenvs = True

TEST = ".[test]"


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (arguments go to pytest: ``nox -s tests -- -k cli``)."""
    session.install("-e", TEST)
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the code, the tests, the examples and the benchmarks."""
    session.install("-e", TEST)
    session.run("ruff", "check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over src/carecast (settings in pyproject.toml)."""
    session.install("-e", TEST)
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the docs; any warning fails (a broken link, a page missing from the nav)."""
    session.install("-e", TEST)
    session.run("mkdocs", "build", "--strict", "--site-dir", f"{session.create_tmp()}/site")


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmarks (benchmarks/run.py); arguments go to it."""
    session.install("-e", TEST)
    session.run("python", "benchmarks/run.py", *session.posargs)
