"""Files and folders seqtasks writes atomically get the permissions of ordinary new ones."""

import os
import stat

import pytest


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _modes(root):
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, root)] = stat.S_IMODE(os.stat(path).st_mode)
    return found


def test_atomic_files_and_folders_follow_the_umask(tmp_path, umask_022):
    from seqtasks.files import atomic_directory, write_text

    write_text(tmp_path / "a.txt", "x")
    with atomic_directory(tmp_path, "d") as tmp:
        kept = tmp
        os.rename(tmp, tmp_path / "d")
    assert not kept.exists()
    assert _modes(tmp_path) == {"a.txt": 0o644, "d": 0o755}
    os.umask(0o077)
    write_text(tmp_path / "b.txt", "x")
    assert stat.S_IMODE(os.stat(tmp_path / "b.txt").st_mode) == 0o600


def test_an_export_is_readable_by_other_users(tmp_path, umask_022):
    from samples import tiny_exports

    version = tiny_exports(tmp_path / "exports", ["forecasting"])["forecasting"]
    modes = _modes(version.parent)
    assert modes[version.name] == 0o755
    assert {mode for mode in modes.values()} == {0o755, 0o644}, modes
