"""Lab logs: the generated blocks are replaced, the student's text is kept."""

from keras_dyn.report.lablog import END, START, generated_part, replace_generated, update_log


def test_lablog_keeps_student_text(tmp_path):
    log = tmp_path / "LOG.md"
    log.write_text(f"# Lab\n\nMy prediction: A wins.\n\n{START}\nold\n{END}\n\n## Notes\nmine\n")
    update_log(log, "new findings")
    text = log.read_text()
    assert "My prediction: A wins." in text and "## Notes\nmine" in text
    assert generated_part(text) == "new findings"
    assert "old" not in text
    assert replace_generated("no markers", "x").endswith(f"{START}\nx\n{END}\n")
