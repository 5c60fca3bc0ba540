"""An analyst's install: `pip install .` in a fresh virtual environment gives a working
`signin-review analyze` (no Node, Azurite, checkov or Chromium; none of the tenant packages),
and `signin-review --version`.

The package is installed from a copy of what the sdist holds (pyproject.toml, README.md,
shared/), so the installed files alone must hold every template and data file `analyze` reads,
and the run happens outside the source tree. pip resolves the dependencies the way the
machine's pip is configured (its index or cache): package installs are the only traffic."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = ROOT / "tests" / "data" / "public"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def analyst(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `signin-review` script of a fresh virtual environment holding only `pip install .`."""
    base = tmp_path_factory.mktemp("analyst")
    source = base / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copy(ROOT / "README.md", source)
    shutil.copytree(ROOT / "shared", source / "shared",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                           "--disable-pip-version-check", str(source)],
                          cwd=base, env=_clean_env(), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return env_dir / "bin" / "signin-review"


def _clean_env() -> dict[str, str]:
    """The environment without what would let the source tree or the dev venv leak in."""
    return {k: v for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}


def _run(script: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(script), *args], cwd=cwd, env=_clean_env(),
                          capture_output=True, text=True, timeout=600)


def test_version(analyst: Path, tmp_path: Path) -> None:
    from shared import __version__

    done = _run(analyst, "--version", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == f"signin-review {__version__}\n"


def test_only_the_analyst_packages_are_installed(analyst: Path, tmp_path: Path) -> None:
    python = analyst.parent / "python"
    probe = ("import importlib.util as u; print(sorted(m for m in ('azure', 'msgraph', 'jwt', "
             "'kiota_abstractions', 'pytest') if u.find_spec(m)))")
    done = subprocess.run([str(python), "-c", probe], cwd=tmp_path, env=_clean_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "[]", done.stderr
    refused = _run(analyst, "review", "--user", "someone@contoso.example", cwd=tmp_path)
    assert refused.returncode == 4  # exits.SETTINGS: says what to install
    assert "pip install 'signin-review[tenant]'" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_analyze_public_exports(analyst: Path, tmp_path: Path) -> None:
    files = [str(PUBLIC / "Azure-Sentinel" / "disable_accounts.csv"),
             str(PUBLIC / "Azure-Sentinel" / "sign-in_adelete.csv"),
             str(PUBLIC / "msticnb" / "aad_signin_random.jsonl")]
    done = _run(analyst, "analyze", *files, "--output", "json", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    review = json.loads(done.stdout)
    assert review["input"]["files"] == 3 and review["input"]["signInsKept"] == 360
    verdicts = {u["userPrincipalName"]: u["verdict"] for u in review["users"]}
    assert verdicts["johns@m365x816222.onmicrosoft.com"] == "low"
    for output in ("html", "table", "csv"):
        out = tmp_path / f"review.{output}"
        done = _run(analyst, "analyze", *files, "--output", output, "--out", str(out),
                    "--quiet", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert out.stat().st_size > 0
    assert "johns@m365x816222.onmicrosoft.com" in (tmp_path / "review.html").read_text()


def test_the_interpreter_running_this_suite_is_not_the_one_tested(analyst: Path) -> None:
    assert Path(sys.executable).resolve() != (analyst.parent / "python").resolve()
