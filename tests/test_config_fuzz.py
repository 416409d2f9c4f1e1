"""A mutated-config corpus from every key of every shipped config, through the check step only.

Every leaf key of ``configs/*.toml`` (and of any ``labs/*/*.toml``) gets the mutations that fit
its value: wrong type, out of range, an unknown value or key, path-like strings ("../../x",
"/abs", "a/b", "..", "", 300 characters, NUL), empty lists, non-finite numbers, a table. Each
mutated file goes through ``python -m keras_dyn check`` (in-process: the fast suite a sample with
every key and mutation once, ``-m slow`` the whole corpus; a handful in
subprocesses to see the real exit status and stderr; a few through ``run --quick`` to see that a
rejection comes before training). Asserted: no traceback, exit 0 or 2, a rejection is one line
naming the file, the mutations that must be rejected are, and no file is written anywhere.
"""

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from keras_dyn import tomlio

from keras_dyn.__main__ import main

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted(REPO.glob("configs/*.toml")) + sorted(REPO.glob("labs/*/*.toml"))
MARK = "__keras_dyn_fuzz__"
# Sections whose every key and value are validated by config.py; mutations elsewhere (the
# free-form [report] / [lab] tables) must still give exit 0 or a one-line error, never a traceback.
STRICT = ("experiment", "data", "model", "training", "log", "probes", "grid", "cases")

PATHS = ['"../../x"', '"/abs"', '"a/b"', '".."', '""', '"' + "n" * 300 + '"', '"a\\u0000b"',
         '"a\\\\b"', '"C:\\\\x"', '"sp ace"', '"tab\\tx"']
NUMBERS = ["-1", "0", "-9223372036854775808", "9223372036854775807", "4294967296", "1e308",
           "-1.5", "nan", "inf", "-inf", "0.5", '"12"', "true", "[1]", "{ x = 1 }"]
LISTS = ['"text"', "true", "1", "[]", "[[1]]", '["x"]', "[-1]", "[9223372036854775807]",
         "{ x = 1 }", "[1, 1]", "[0]", "[1.5]"]
# In the strict sections these mutations can never be valid: every number there is >= 0 and
# every float has an upper bound; seeds are below 2**32; names are names.
ALWAYS_BAD_NUMBERS = {"-1", "-9223372036854775808", "1e308", "-1.5", "nan", "inf", "-inf", '"12"',
                      "true", "[1]", "{ x = 1 }"}
ALWAYS_BAD_LISTS = {'"text"', "true", "1", '["x"]', "[-1]", "[9223372036854775807]", "{ x = 1 }"}


def mutations(keys, value, strict):
    """TOML literals to put in place of ``value``, each with whether config.py must reject it
    (only ever required in the strict sections; elsewhere exit 0 or a one-line error is fine)."""
    key = ".".join(map(str, keys))
    out = []
    if isinstance(value, bool):
        out = [(lit, True) for lit in ['"yes"', "1", "[]", "nan"]]
    elif isinstance(value, (int, float)):
        seed = str(keys[-1]).endswith("seed")
        out = [(lit, lit in ALWAYS_BAD_NUMBERS or (seed and lit == "4294967296")) for lit in NUMBERS]
    elif isinstance(value, str):
        if key == "experiment.name":  # becomes a folder: every path-like string is refused
            out = [(lit, lit != '""') for lit in PATHS]
        elif key == "experiment.description":  # free text, but no control characters
            out = [(lit, "\\u0000" in lit) for lit in PATHS]
        else:  # a choice (dataset, activation, ...): none of these is one
            out = [(lit, True) for lit in PATHS]
        out += [("1", True), ("[]", True), ("{ x = 1 }", True), ("nan", True)]
    elif isinstance(value, list):
        may_be_empty = key in ("probes.shifts", "probes.numpy_twin_seeds")  # [] = none / every seed
        out = [(lit, lit in ALWAYS_BAD_LISTS or (lit == "[]" and not may_be_empty)) for lit in LISTS]
    return [(lit, bool(strict and bad)) for lit, bad in out]


def leaves(table, prefix=()):
    """(path, value) of every leaf: scalars and lists (a list is one leaf), except that a list of
    tables in a strict section (``[[cases]]``) is entered: its leaves are ``("cases", i, key)``."""
    for key, value in table.items():
        if isinstance(value, dict):
            yield from leaves(value, prefix + (key,))
        elif (isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
              and (prefix or (key,))[0] in STRICT):
            for i, item in enumerate(value):
                yield from leaves(item, prefix + (key, i))
        else:
            yield prefix + (key,), value


def corpus(paths=SHIPPED):
    cases = []
    for path in paths:
        raw = tomlio.loads(path.read_text(encoding="utf-8"))
        for keys, value in leaves(raw):
            strict = keys[0] in STRICT
            for literal, must_reject in mutations(keys, value, strict):
                cases.append((path, keys, literal, must_reject))
            # an unknown key next to this one, and an unknown section
            cases.append((path, keys[:-1] + (keys[-1] + "_typo",), "1", strict))
        cases.append((path, ("sectionx", "key"), "1", True))
    return cases


def mutated_text(path, keys, literal) -> str:
    raw = tomlio.loads(path.read_text(encoding="utf-8"))
    table = raw
    for key in keys[:-1]:
        table = table[key] if isinstance(key, int) else table.setdefault(key, {})
        if not isinstance(table, dict) and not (isinstance(table, list) and table):
            return None
    table[keys[-1]] = MARK
    return tomlio.dumps(raw).replace(f'"{MARK}"', literal)


def snapshot(*folders):
    return {folder: sorted((str(p), p.stat().st_mtime_ns) for p in folder.rglob("*"))
            for folder in folders}


def test_corpus_covers_every_key_of_every_shipped_config():
    cases = corpus()
    for path in SHIPPED:
        raw = tomlio.loads(path.read_text(encoding="utf-8"))
        keys = {k for k, _ in leaves(raw)}
        assert keys <= {c[1] for c in cases if c[0] == path}
    assert len(cases) > 1000


def test_corpus_enters_cases(tmp_path):
    """A ``[[cases]]`` config: every key of every case is mutated (and a typo added beside it),
    and a mutated case value is rejected as ``cases[i].key``."""
    path = tmp_path / "c.toml"
    path.write_text('[data]\ndataset = "circle"\n[model]\nhidden = [4]\n[training]\nseeds = [0]\n'
                    '[grid]\nactivation = ["relu", "tanh"]\n'
                    '[[cases]]\noptimizer = "sgd"\nlearning_rate = 0.1\n'
                    '[[cases]]\noptimizer = "adam"\nlearning_rate = 0.001\n', encoding="utf-8")
    keys = {c[1] for c in corpus([path])}
    for i in (0, 1):
        for key in ("optimizer", "learning_rate", "optimizer_typo", "learning_rate_typo"):
            assert ("cases", i, key) in keys
    text = mutated_text(path, ("cases", 1, "learning_rate"), "-1.5")
    assert "learning_rate = -1.5" in text and 'optimizer = "sgd"' in text
    bad = tmp_path / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        assert main(["check", str(bad)]) == 2
    assert f"config error: {bad}: cases[1].learning_rate: -1.5 is out of range" in err.getvalue()
    problems = []
    for i, (_, keys, literal, must_reject) in enumerate(corpus([path])):
        if keys[0] != "cases":
            continue
        bad.write_text(mutated_text(path, keys, literal), encoding="utf-8")
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["check", str(bad)])
        lines = err.getvalue().strip().splitlines()
        if code not in (0, 2) or (code == 0 and must_reject) or (code == 2 and (
                len(lines) != 1 or f": cases[{keys[1]}]" not in lines[0])):
            problems.append(f"{keys} = {literal}: {code} {lines}")
    assert not problems, problems


def kind(keys) -> tuple:
    """A key path with list indices folded: ``cases.0.optimizer`` and ``cases.3.optimizer`` alike."""
    return tuple("[i]" if isinstance(k, int) else k for k in keys)


def sample(cases, seed=0):
    """One case for every distinct (key, mutation) of the corpus, from a file (and case) drawn
    with a fixed seed: every key of every shipped config gets every mutation that fits it, once
    (the whole corpus repeats the shared keys once per config and per case)."""
    import random

    by_kind: dict = {}
    for case in cases:
        by_kind.setdefault((kind(case[1]), case[2]), []).append(case)
    rng = random.Random(seed)
    return [rng.choice(group) for group in by_kind.values()]


def test_sample_covers_every_key_and_mutation():
    cases = corpus()
    picked = sample(cases)
    assert {(kind(c[1]), c[2]) for c in picked} == {(kind(c[1]), c[2]) for c in cases}
    assert len({c[0] for c in picked}) == len(SHIPPED)  # drawn from every shipped file
    assert len(picked) < len(cases) // 3


@pytest.mark.slow  # ~10-25 s of real work: CI's slow suite runs it (the fast suite stays under 5 minutes)
def test_mutated_configs_sample_in_process(tmp_path, monkeypatch):
    """The fast suite's share of the corpus (:func:`sample`) through ``main(["check", file])``."""
    check_in_process(tmp_path, monkeypatch, sample(corpus()))


@pytest.mark.slow
def test_mutated_configs_in_process(tmp_path, monkeypatch):
    """Every case through ``main(["check", file])``: no traceback, exit 0 or 2, one line."""
    check_in_process(tmp_path, monkeypatch, corpus())


def check_in_process(tmp_path, monkeypatch, cases):
    """Each case through ``main(["check", file])``: no traceback, exit 0 or 2, one line."""
    work = tmp_path / "cwd"
    work.mkdir()
    corpus_dir = tmp_path / "corpus"
    corpus_dir.mkdir()
    monkeypatch.chdir(work)
    files = []
    for i, (path, keys, literal, must_reject) in enumerate(cases):
        text = mutated_text(path, keys, literal)
        if text is None:
            continue
        file = corpus_dir / f"m{i:05d}.toml"
        file.write_text(text, encoding="utf-8")
        files.append((file, path, keys, literal, must_reject))
    before = snapshot(work, corpus_dir)
    rejected, problems = 0, []
    for file, path, keys, literal, must_reject in files:
        err, out = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                code = main(["check", str(file)])
            except SystemExit as exc:  # argparse only; never for a config
                code = f"SystemExit({exc.code})"
            except Exception as exc:  # the thing this test exists to catch
                code = f"traceback: {type(exc).__name__}: {exc}"
        where = f"{path.name} {'.'.join(map(str, keys))} = {literal[:40]}"
        lines = [line for line in err.getvalue().splitlines() if line.strip()]
        if code == 2:
            rejected += 1
            if len(lines) != 1 or not lines[0].startswith(f"config error: {file}"):
                problems.append(f"{where}: not one line naming the file: {lines}")
        elif code == 0:
            if must_reject:
                problems.append(f"{where}: accepted, must be rejected")
        else:
            problems.append(f"{where}: {code}")
    assert not problems, f"{len(problems)} of {len(files)} cases:\n" + "\n".join(problems[:40])
    assert rejected > len(files) // 2
    assert snapshot(work, corpus_dir) == before  # nothing written anywhere


SUBPROCESS_CASES = [
    ("exp2_epochs_vs_width.toml", ("experiment", "name"), '"../../../../escape"'),
    ("exp2_epochs_vs_width.toml", ("experiment", "name"), '"a\\u0000b"'),
    ("exp11_label_noise.toml", ("data", "label_noise_seed"), "-7"),
    ("exp1_width_grid.toml", ("training", "seeds"), "[9223372036854775807]"),
    ("exp14_dataset_shift.toml", ("probes", "shift_severities"), "[99]"),
]


@pytest.mark.parametrize("command", ["check", "run"])
@pytest.mark.parametrize("config, keys, literal", SUBPROCESS_CASES,
                         ids=[f"{c[0].split('_')[0]}-{'.'.join(c[1])}" for c in SUBPROCESS_CASES])
def test_rejections_in_a_subprocess_exit_2_one_line_nothing_written(tmp_path, command, config, keys,
                                                                    literal):
    if command == "run" and keys != ("experiment", "name"):
        pytest.skip("run is tried on the path-like names; check covers the rest")
    work = tmp_path / "cwd"
    work.mkdir()
    file = tmp_path / "mutated.toml"
    file.write_text(mutated_text(REPO / "configs" / config, keys, literal), encoding="utf-8")
    before = snapshot(tmp_path)
    extra = ["--quick", "--logdir", str(work / "logs")] if command == "run" else []
    proc = subprocess.run([sys.executable, "-m", "keras_dyn", command, str(file), *extra],
                          cwd=work, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"config error: {file}: {'.'.join(keys)}:"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert snapshot(tmp_path) == before
    assert not (tmp_path.parent / "escape").exists()
