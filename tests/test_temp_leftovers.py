"""`workshop test` names (and removes) whatever a test run leaves in its temp folder."""

import getpass

from workshop.temp_leftovers import watched_temp_dir


def test_what_a_run_leaves_behind_is_named_and_removed(tmp_path):
    folder = tmp_path / "run-temp"
    folder.mkdir()
    (folder / "stale-from-a-killed-run").mkdir()
    env: dict[str, str] = {}
    with watched_temp_dir(env, folder) as leftovers:
        assert env["TMPDIR"] == str(folder)
        assert not (folder / "stale-from-a-killed-run").exists()  # cleared before the run
        (folder / f"pytest-of-{getpass.getuser()}").mkdir()  # pytest's own: not a leftover...
        (folder / "org.chromium.Chromium.abc").mkdir()  # ...what a browser forgot is
    assert leftovers == ["org.chromium.Chromium.abc"]
    assert not (folder / "org.chromium.Chromium.abc").exists()
