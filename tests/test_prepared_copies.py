"""tests/prepared_copies.py: each folder is prepared once, and every copy is the prepared one."""

from __future__ import annotations

import multiprocessing
import pathlib
import time

import pytest

from tests.prepared_copies import PreparedCopies


def a_project(folder: pathlib.Path) -> pathlib.Path:
    folder.mkdir()
    (folder / "manage.py").write_text("# a Django project\n")
    (folder / "chat.py").write_text("print('hi')\n")
    return folder


def count_and_migrate(log: pathlib.Path, seconds: float = 0.0):
    """A prepare step that leaves a database behind and notes each time it ran."""

    def prepare(copy: pathlib.Path) -> None:
        with open(log, "a") as notes:
            notes.write(f"{copy}\n")
        time.sleep(seconds)  # as long as migrate takes: the others arrive meanwhile
        (copy / "db.sqlite3").write_text("migrated")

    return prepare


def test_a_folder_is_prepared_once_and_each_copy_has_what_prepare_made(tmp_path):
    source, log = a_project(tmp_path / "step07"), tmp_path / "prepared.log"
    worker_1 = PreparedCopies(tmp_path / "templates")
    worker_2 = PreparedCopies(tmp_path / "templates")  # another worker, the same folder
    copies = [
        worker.copy(source, tmp_path / f"copy-{n}", "python=3.11", count_and_migrate(log))
        for n, worker in enumerate([worker_1, worker_2, worker_1])
    ]
    assert len(log.read_text().splitlines()) == 1
    for copy in copies:
        assert copy.name == "step07"
        assert (copy / "db.sqlite3").read_text() == "migrated"
        assert (copy / "chat.py").read_text() == "print('hi')\n"
    assert len({copy.resolve() for copy in copies}) == 3, "copies must be separate folders"
    assert not (source / "db.sqlite3").exists(), "the source folder was changed"


def test_another_key_is_another_template(tmp_path):
    source, log = a_project(tmp_path / "step07"), tmp_path / "prepared.log"
    prepared = PreparedCopies(tmp_path / "templates")
    prepared.copy(source, tmp_path / "a", "python=3.11", count_and_migrate(log))
    prepared.copy(source, tmp_path / "b", "python=3.10", count_and_migrate(log))
    assert len(log.read_text().splitlines()) == 2


def test_a_prepare_that_failed_is_done_again_next_time(tmp_path):
    source, log = a_project(tmp_path / "step07"), tmp_path / "prepared.log"
    prepared = PreparedCopies(tmp_path / "templates")

    def fails(copy):
        (copy / "db.sqlite3").write_text("half")
        raise RuntimeError("migrate failed")

    with pytest.raises(RuntimeError, match="migrate failed"):
        prepared.copy(source, tmp_path / "a", "k", fails)
    copy = prepared.copy(source, tmp_path / "b", "k", count_and_migrate(log))
    assert (copy / "db.sqlite3").read_text() == "migrated"


def _copy_in_another_process(templates, source, destination, log) -> None:
    PreparedCopies(pathlib.Path(templates)).copy(
        pathlib.Path(source), pathlib.Path(destination), "k", count_and_migrate(log, 1.0)
    )


def test_workers_copying_at_the_same_time_prepare_once(tmp_path):
    source, log = a_project(tmp_path / "step07"), tmp_path / "prepared.log"
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(
            target=_copy_in_another_process,
            args=(str(tmp_path / "templates"), str(source), str(tmp_path / f"w{n}"), str(log)),
        )
        for n in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert len(log.read_text().splitlines()) == 1
    for n in range(4):
        assert (tmp_path / f"w{n}" / "step07" / "db.sqlite3").read_text() == "migrated"
