"""The package description (pyproject.toml) and the installed path: a wheel built from this
checkout, installed into a fresh venv, runs a lab from an empty folder and writes nothing inside
the installed package; an editable install finds the checkout's labs."""

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def test_every_subpackage_is_listed_and_the_labs_are_mapped():
    setup = PYPROJECT["tool"]["setuptools"]
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "keras_dyn").rglob("__init__.py")}
    assert found <= set(setup["packages"]), f"add to [tool.setuptools] packages: {found - set(setup['packages'])}"
    assert setup["package-dir"] == {"keras_dyn._configs": "configs", "keras_dyn._labs": "labs"}
    data = PYPROJECT["tool"]["setuptools"]["package-data"]
    assert "kernels/*.cc" in data["keras_dyn"] and (REPO / "keras_dyn/kernels/gradient_stats.cc").is_file()
    shipped = {p for pattern in data["keras_dyn._labs"] for p in (REPO / "labs").glob(pattern)}
    for log in (REPO / "labs").glob("*/LOG.md"):
        assert log in shipped
        assert set((log.parent / "figures").glob("*.png")) <= shipped
    assert {p for p in (REPO / "configs").glob(data["keras_dyn._configs"][0])} == set((REPO / "configs").glob("*.toml"))


def test_console_script_and_dependencies():
    project = PYPROJECT["project"]
    assert project["scripts"] == {"keras-dyn": "keras_dyn.cli:main"}
    from keras_dyn import cli

    assert callable(cli.main)
    requirements = pytest.importorskip("packaging.requirements")
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = requirements.Requirement(line)
            pins[req.name.lower()] = next(iter(req.specifier)).version
    ranges = {requirements.Requirement(d).name.lower(): requirements.Requirement(d) for d in project["dependencies"]}
    # every runtime dependency is pinned in requirements.txt, and the tested pin is in its range
    assert set(ranges) <= set(pins), f"pin these in requirements.txt: {set(ranges) - set(pins)}"
    for name, req in ranges.items():
        assert req.specifier.contains(pins[name]), f"{name}=={pins[name]} is outside {req}"
    # the pins not needed at run time are the test extra's (pytest, nbclient), each in its range
    extras = {requirements.Requirement(d).name.lower(): requirements.Requirement(d)
              for d in project["optional-dependencies"]["test"]}
    assert set(pins) - set(ranges) <= set(extras)
    for name, req in extras.items():
        assert name in pins and req.specifier.contains(pins[name]), f"{name}: pin it within {req}"


# --------------------------------------------------------------------------- installed, end to end


def _clean_copy(dest: Path) -> Path:
    """The checkout's tracked kind of files, without run output, venvs or old build folders."""
    ignore = shutil.ignore_patterns(".git", "modellogs", "build", "dist", ".venv*", "venv", ".cache-ci",
                                    "*.egg-info", "__pycache__", ".pytest_cache")
    shutil.copytree(REPO, dest, ignore=ignore)
    return dest


def _venv_using_this_environment(path: Path) -> Path:
    """A fresh venv that sees this interpreter's packages (TensorFlow etc.) through a .pth file,
    so installing keras_dyn with --no-deps does not reinstall them."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    python = path / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    here = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(purelib) / "_keras_dyn_test_base.pth").write_text("\n".join(sorted(here)) + "\n")
    return python


def _env(tmp_path, real_data):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(KERAS_DYN_DATA=str(real_data), KERAS_DYN_NO_DOWNLOAD="1", TF_CPP_MIN_LOG_LEVEL="2",
               KERAS_DYN_CACHE=str(tmp_path / "cache"), PIP_DISABLE_PIP_VERSION_CHECK="1")
    if shutil.which(os.environ.get("CXX", "g++")):
        env["KERAS_DYN_FUSED_STATS"] = "on"  # the kernel must build from the installed source
    return env


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


@pytest.mark.slow
def test_wheel_installs_and_runs_a_lab_from_any_folder(tmp_path, real_data):
    source = _clean_copy(tmp_path / "src")
    env = _env(tmp_path, real_data)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(source), "-w",
                    str(tmp_path / "wheel")], check=True, env=env, timeout=600)
    wheel = next((tmp_path / "wheel").glob("keras_dyn-*.whl"))
    python = _venv_using_this_environment(tmp_path / "venv")
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True,
                   env=env, timeout=600)
    site = Path(subprocess.run([str(python), "-c", "import keras_dyn, pathlib; "
                                "print(pathlib.Path(keras_dyn.__file__).parents[1])"],
                               check=True, capture_output=True, text=True, env=env, cwd=tmp_path).stdout.strip())
    assert site.is_relative_to(tmp_path / "venv"), site
    before = _snapshot(site)
    keras_dyn = str(tmp_path / "venv" / "bin" / "keras-dyn")
    work = tmp_path / "x"
    work.mkdir()

    labs = subprocess.run([keras_dyn, "labs"], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert labs.returncode == 0, labs.stderr
    assert "exp2_epochs_vs_width — " in labs.stdout and "run: keras-dyn lab exp2_epochs_vs_width" in labs.stdout

    run = subprocess.run([keras_dyn, "lab", "exp2_epochs_vs_width", "--quick"], cwd=work, env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    findings = list((work / "modellogs").glob("exp2_epochs_vs_width-quick/FINDINGS-*.md"))
    assert len(findings) == 1 and "Verdict" in findings[0].read_text()
    if env.get("KERAS_DYN_FUSED_STATS") == "on":
        assert list((tmp_path / "cache").glob("gradient_stats-*.so")), "the kernel was not built"

    sheet = subprocess.run([keras_dyn, "worksheet", "exp2_epochs_vs_width", "--out", "sheets"], cwd=work,
                           env=env, capture_output=True, text=True, timeout=300)
    assert sheet.returncode == 0, sheet.stderr
    assert (work / "sheets" / "exp2_epochs_vs_width.html").is_file()
    into_package = subprocess.run([keras_dyn, "worksheet", "exp2_epochs_vs_width", "--out", str(site / "keras_dyn")],
                                  cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert into_package.returncode == 2 and "inside the installed keras_dyn package" in into_package.stderr

    assert _snapshot(site) == before, "something was written inside site-packages"
    assert sorted(p.name for p in work.iterdir()) == ["modellogs", "sheets"]


@pytest.mark.slow
def test_editable_install_uses_the_checkout(tmp_path, real_data):
    source = _clean_copy(tmp_path / "src")
    env = _env(tmp_path, real_data)
    python = _venv_using_this_environment(tmp_path / "venv")
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "-q", "-e", str(source)], check=True,
                   env=env, timeout=600)
    where = subprocess.run([str(python), "-c", "from keras_dyn import catalogue as c; "
                            "print(c.installed(), c.configs_root(), c.labs_root())"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert where == ["False", str(source / "configs"), str(source / "labs")]
    labs = subprocess.run([str(tmp_path / "venv" / "bin" / "keras-dyn"), "labs"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert labs.returncode == 0 and "exp2_epochs_vs_width" in labs.stdout, labs.stderr
