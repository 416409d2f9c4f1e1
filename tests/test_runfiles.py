"""keras_dyn.runs.files and keras_dyn.runs.claims: confinement to the log folder, atomic and exclusive writes, one-line
errors when the file system refuses, and run-folder claims. No TensorFlow, no training."""

import errno
import os
import threading
import time

import pytest
from keras_dyn import tomlio

from keras_dyn.errors import OutputError
from keras_dyn.runs.claims import CLAIM_FILE, claim_run, discard_run_dir, find_finished, owner_of, process_lock
from keras_dyn.runs.files import atomic_write_text, exclusive_name, inside

RESULTS = "[run]\nseed = 0\n[final]\ntest_accuracy = 0.5\n"


def listing(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# --------------------------------------------------------------------------- confinement


def test_inside_accepts_paths_in_the_root_and_refuses_dotdot_and_links_out(tmp_path):
    root = tmp_path / "logs"
    (root / "exp").mkdir(parents=True)
    assert inside(root, root / "exp" / "run") == (root / "exp" / "run").resolve()
    with pytest.raises(OutputError, match="outside"):
        inside(root, root / ".." / ".." / "escape")
    (tmp_path / "elsewhere").mkdir()
    (root / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutputError) as info:
        inside(root, root / "link" / "run")
    assert "\n" not in str(info.value) and str(info.value).startswith("output error:")


def test_write_through_a_link_pointing_out_is_refused_and_nothing_lands_outside(tmp_path):
    root = tmp_path / "logs"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "exp").symlink_to(outside)
    with pytest.raises(OutputError):
        atomic_write_text(root / "exp" / "FINDINGS.md", "x", root=root)
    assert listing(outside) == []


def test_a_link_at_the_file_itself_is_replaced_not_followed(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    (tmp_path / "logs").mkdir()
    link = tmp_path / "logs" / "results.toml"
    link.symlink_to(target)
    atomic_write_text(link, "new", root=tmp_path / "logs")
    assert target.read_text() == "keep me"
    assert not link.is_symlink() and link.read_text() == "new"


# --------------------------------------------------------------------------- write errors


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "disk is full"),
                                         (errno.EROFS, "writable --logdir")])
def test_refused_write_is_one_line_and_leaves_no_temporary_file(tmp_path, monkeypatch, code, words):
    path = tmp_path / "results.toml"
    path.write_text("old = 1\n")

    def refuse(fd):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fsync", refuse)
    with pytest.raises(OutputError) as info:
        atomic_write_text(path, "new = 2\n")
    message = str(info.value)
    assert "\n" not in message and str(path) in message and words in message
    assert path.read_text() == "old = 1\n"  # the old file is intact
    assert listing(tmp_path) == ["results.toml"]  # no temporary file left


def test_folder_that_cannot_be_created_is_one_line(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(OutputError, match="cannot create folder"):
        atomic_write_text(tmp_path / "file" / "exp" / "x.md", "x")


def test_exclusive_write_never_replaces_and_exclusive_name_takes_the_next_suffix(tmp_path):
    atomic_write_text(tmp_path / "F.md", "first", exclusive=True)
    with pytest.raises(FileExistsError):
        atomic_write_text(tmp_path / "F.md", "second", exclusive=True)
    assert (tmp_path / "F.md").read_text() == "first"
    made = exclusive_name(tmp_path, lambda suffix: atomic_write_text(
        tmp_path / f"F{suffix}.md", "third", exclusive=True))
    assert made.name == "F-2.md"
    assert listing(tmp_path) == ["F-2.md", "F.md"]


# --------------------------------------------------------------------------- claims


def test_new_claim_then_busy_while_held_then_retaken_after_release(tmp_path):
    first = claim_run(tmp_path, "w4_s0", "a = 1\n", root=tmp_path)
    assert first.state == "new" and first.run_dir.name == "w4_s0"
    assert sorted(p.name for p in first.run_dir.iterdir()) == [CLAIM_FILE, "config.toml"]
    assert f"pid {os.getpid()}" in owner_of(first.run_dir / CLAIM_FILE)
    # flock locks belong to open files, so a second claim in this process sees a live owner
    second = claim_run(tmp_path, "w4_s0", "a = 1\n", root=tmp_path, wait=False)
    assert second.state == "busy" and second.run_dir == first.run_dir
    (first.run_dir / "train").mkdir()
    (first.run_dir / "train" / "events.partial").write_text("x")
    first.release()  # as if the process died half-way
    third = claim_run(tmp_path, "w4_s0", "a = 1\n", root=tmp_path, wait=False)
    assert third.state == "retaken" and third.run_dir == first.run_dir
    assert sorted(p.name for p in third.run_dir.iterdir()) == [CLAIM_FILE, "config.toml"]
    third.release()


def test_finished_folder_is_reused_and_another_config_gets_a_new_folder(tmp_path):
    claim = claim_run(tmp_path, "w4_s0", "a = 1\n", root=tmp_path)
    (claim.run_dir / "results.toml").write_text(RESULTS)
    claim.release()
    again = claim_run(tmp_path, "w4_s0", "a = 1\n", root=tmp_path)
    assert again.state == "finished" and again.results["final"]["test_accuracy"] == 0.5
    other = claim_run(tmp_path, "w4_s0", "a = 2\n", root=tmp_path)
    assert other.state == "new" and other.run_dir.name == "w4_s0_2"
    other.release()
    fresh = claim_run(tmp_path, "w4_s0", "a = 1\n", root=tmp_path, skip={"w4_s0"})  # --restart
    assert fresh.state == "new" and fresh.run_dir.name == "w4_s0_3"
    fresh.release()
    assert find_finished(tmp_path, "w4_s0", "a = 1\n") == claim.run_dir


def test_a_damaged_results_file_is_not_a_finished_run(tmp_path):
    claim = claim_run(tmp_path, "w4_s0", "a = 1\n", root=tmp_path)
    (claim.run_dir / "results.toml").write_text("[run]\nseed = ")
    claim.release()
    again = claim_run(tmp_path, "w4_s0", "a = 1\n", root=tmp_path)
    assert again.state == "retaken" and not (again.run_dir / "results.toml").exists()
    again.release()


def test_a_run_folder_that_is_a_link_is_never_used(tmp_path):
    root = tmp_path / "logs"
    (root / "exp").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "config.toml").write_text("a = 1\n")
    (root / "exp" / "w4_s0").symlink_to(outside)
    claim = claim_run(root / "exp", "w4_s0", "a = 1\n", root=root)
    assert claim.state == "new" and claim.run_dir.name == "w4_s0_2"
    claim.release()
    assert listing(outside) == ["config.toml"]


def test_waiting_claim_reuses_the_results_of_the_live_owner(tmp_path):
    owner = claim_run(tmp_path, "w4_s0", "a = 1\n", root=tmp_path)
    waited = []

    def finish():
        time.sleep(0.3)
        (owner.run_dir / "results.toml").write_text(RESULTS)
        owner.release()

    thread = threading.Thread(target=finish)
    thread.start()
    claim = claim_run(tmp_path, "w4_s0", "a = 1\n", root=tmp_path, wait=True, on_wait=waited.append)
    thread.join()
    assert claim.state == "finished" and claim.run_dir == owner.run_dir
    assert waited and "pid" in waited[0]


def test_discarded_claim_leaves_nothing(tmp_path):
    claim = claim_run(tmp_path, "w4_s0", "a = 1\n", root=tmp_path)
    (claim.run_dir / "train").mkdir()
    discard_run_dir(claim)
    assert not claim.run_dir.exists()
    assert claim_run(tmp_path, "w4_s0", "a = 1\n", root=tmp_path).run_dir.name == "w4_s0"


def test_process_lock_is_exclusive_until_closed(tmp_path):
    fd = process_lock(tmp_path / ".grid.lock", "grid x")
    assert fd is not None
    assert process_lock(tmp_path / ".grid.lock", "grid y") is None
    os.close(fd)
    again = process_lock(tmp_path / ".grid.lock", "grid y")
    assert again is not None
    os.close(again)


def test_a_file_system_without_locks_is_one_line(tmp_path, monkeypatch):
    import fcntl

    def no_locks(fd, how):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with pytest.raises(OutputError, match="working file locks"):
        claim_run(tmp_path, "w4_s0", "a = 1\n", root=tmp_path)


def test_a_finished_folder_wins_over_a_dead_attempt_at_the_same_run(tmp_path):
    first = claim_run(tmp_path, "w4_s0", "a = 1\n", root=tmp_path)
    (first.run_dir / "results.toml").write_text(RESULTS)
    first.release()
    restarted = claim_run(tmp_path, "w4_s0", "a = 1\n", root=tmp_path, skip={"w4_s0"})
    restarted.release()  # a --restart attempt that died: w4_s0_2 has no results
    again = claim_run(tmp_path, "w4_s0", "a = 1\n", root=tmp_path)
    assert again.state == "finished" and again.run_dir == first.run_dir


def test_a_run_saved_before_a_key_was_added_is_still_found(tmp_path):
    """A run folder written by an earlier keras_dyn, whose config.toml lacks a key added since
    (with a default that keeps the old behaviour), is the same run; a changed value is not."""
    from keras_dyn.config import from_dict, same_run_config
    from keras_dyn.runs.claims import find_finished

    cfg = from_dict({"experiment": {"name": "v"}, "data": {"dataset": "circle"},
                     "model": {"hidden": [4]}, "training": {"epochs": 1, "seeds": [0]}})
    text = cfg.to_toml()
    raw = cfg.to_dict()
    del raw["training"]["gamma"]  # as if `gamma` had not existed when the run was trained
    older = tomlio.dumps(raw)
    assert older != text and same_run_config(older, text)
    raw["training"]["epochs"] = 2
    assert not same_run_config(tomlio.dumps(raw), text)
    raw["training"]["epochs"] = 1
    raw["training"]["no_such_key"] = 1
    assert not same_run_config(tomlio.dumps(raw), text)
    assert not same_run_config("not [ toml", text) and not same_run_config(None, text)

    run = tmp_path / "w4_s0"
    run.mkdir()
    (run / "config.toml").write_text(older)
    (run / "results.toml").write_text('[run]\nname = "w4_s0"\n[final]\ntest_accuracy = 0.5\n')
    assert find_finished(tmp_path, "w4_s0", text) == run
    claim = claim_run(tmp_path, "w4_s0", text, root=tmp_path)
    assert claim.state == "finished" and claim.run_dir == run
    claim = claim_run(tmp_path, "w4_s0", text.replace("epochs = 1", "epochs = 3"), root=tmp_path)
    assert claim.state == "new" and claim.run_dir != run
    claim.release()
