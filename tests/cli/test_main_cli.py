"""The ``medview`` command's dispatcher: version, verbs, one-line errors with exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import medview
from medview.cli.main import main

MEDVIEW = Path(sys.executable).parent / "medview"


def test_version_from_the_installed_console_script():
    done = subprocess.run([str(MEDVIEW), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stdout.strip() == f"medview {medview.__version__}"


def test_help_lists_the_verbs(capsys):
    try:
        main(["--help"])
    except SystemExit as exit_:
        assert exit_.code == 0
    out = capsys.readouterr().out
    for verb in ("demo", "snapshot"):
        assert f"  {verb} " in out


def test_a_missing_path_is_one_line_on_stderr_and_exit_2(capsys, tmp_path):
    assert main([str(tmp_path / "nowhere.nii.gz")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"medview: error: {tmp_path / 'nowhere.nii.gz'}: no such file or folder"]
