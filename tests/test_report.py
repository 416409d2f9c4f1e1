"""Tables, verdicts and lab logs."""

import math

from keras_dyn.report.lablog import END, START, generated_part, replace_generated, update_log
from keras_dyn.report.tables import compare, summarise


def test_summarise():
    s = summarise([0.8, 0.9])
    assert math.isclose(s.mean, 0.85) and math.isclose(s.sd, 0.0707106781, rel_tol=1e-6) and s.n == 2
    assert s.fmt() == "85.00 ± 7.07%"
    assert summarise([0.5]).fmt() == "50.00%"


def test_compare_within_noise_supported_refuted():
    noisy = compare([0.90, 0.80, 0.85], [0.84, 0.86, 0.85])
    assert noisy.verdict == "within seed noise"
    clear = compare([0.90, 0.91, 0.905], [0.80, 0.81, 0.805])
    assert clear.verdict == "supported"
    assert compare([0.80, 0.81, 0.805], [0.90, 0.91, 0.905]).verdict == "refuted"
    assert compare([0.80, 0.81, 0.805], [0.90, 0.91, 0.905], expect="less").verdict == "supported"


def test_difference_smaller_than_seed_spread_is_noise_even_if_many_seeds():
    a = [0.5 + 0.1 * ((-1) ** i) for i in range(200)]  # sd ~0.1, mean 0.5
    b = [x - 0.05 for x in a]  # shifted by half a standard deviation: 2 SE is tiny, spread is not
    assert compare(a, b).verdict == "within seed noise"


def test_single_seed_never_gives_a_verdict():
    comp = compare([0.9], [0.1])
    assert comp.verdict == "suggests"
    assert "single seed" in comp.sentence("A", "B")


def test_outcome_names_the_larger_side_in_the_words_of_the_quantity():
    # a drop in accuracy: the larger side "drops more", it is not "ahead"
    drop = compare([0.10, 0.11, 0.105], [0.02, 0.03, 0.025])
    assert drop.outcome("noise 40 %", "noise 0 %", "drops more") == "noise 40 % drops more beyond seed noise"
    assert compare([0.02, 0.03, 0.025], [0.10, 0.11, 0.105]).sentence(
        "A", "B", verdict=False, larger="drops more").endswith("**B drops more beyond seed noise**.")
    assert drop.outcome("A", "B") == "A ahead beyond seed noise"  # accuracies keep "ahead"
    assert compare([0.9, 0.8, 0.85], [0.84, 0.86, 0.85]).outcome("A", "B", "higher") == "within seed noise"


def test_lablog_keeps_student_text(tmp_path):
    log = tmp_path / "LOG.md"
    log.write_text(f"# Lab\n\nMy prediction: A wins.\n\n{START}\nold\n{END}\n\n## Notes\nmine\n")
    update_log(log, "new findings")
    text = log.read_text()
    assert "My prediction: A wins." in text and "## Notes\nmine" in text
    assert generated_part(text) == "new findings"
    assert "old" not in text
    assert replace_generated("no markers", "x").endswith(f"{START}\nx\n{END}\n")
