"""`accord pir` end to end: build at the server, sync and query as two operator processes, PSI-sum, bad input."""

from __future__ import annotations

import pandas as pd

from tests.e2e.test_cli import _cluster, accord, start


def _both(tmp_path, *commands):
    """Run one ``accord pir`` command at bank and partner with their own extra arguments; returns stdouts."""
    procs = {p: start("pir", *args, cwd=tmp_path) for p, args in commands}
    outs = {}
    for p, proc in procs.items():
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        outs[p] = out
    return outs


def test_build_sync_query_and_sum_from_the_command_line(tmp_path):
    cluster = _cluster(tmp_path)
    pd.DataFrame({"phone": ["0101", "0102", "0103"], "risk": ["high", "low", "mule"]}).to_csv(tmp_path / "flagged.csv",
                                                                                             index=False)
    pd.DataFrame({"phone": ["0103", "0999"]}).to_csv(tmp_path / "asked.csv", index=False)
    built = accord("pir", "build", "--input", "flagged.csv", "--on", "phone", "--labels", "risk", "--state", "srv",
                   cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert '"entries": 3' in built.stdout and "statistical" in built.stdout
    common = ["--cluster", cluster, "--server", "partner"]
    _both(tmp_path, ("partner", ["sync", *common, "--me", "partner", "--state", "srv"]),
          ("bank", ["sync", *common, "--me", "bank", "--state", "cli"]))
    outs = _both(tmp_path, ("partner", ["query", *common, "--me", "partner", "--state", "srv"]),
                 ("bank", ["query", *common, "--me", "bank", "--state", "cli", "--input", "asked.csv", "--on", "phone",
                           "--output", "answers.csv"]))
    assert "1 of 2 keys matched" in outs["bank"] and "pir.query" in outs["partner"]
    answers = pd.read_csv(tmp_path / "answers.csv", dtype=str, keep_default_na=False)
    assert answers.to_dict("list") == {"phone": ["0103", "0999"], "matched": ["True", "False"], "risk": ["mule", ""]}

    pd.DataFrame({"id": ["a", "b", "c"]}).to_csv(tmp_path / "viewers.csv", index=False)
    pd.DataFrame({"id": ["b", "c", "c", "d"], "cents": [5, 7, 11, 13]}).to_csv(tmp_path / "buyers.csv", index=False)
    sum_args = ["sum", "--cluster", cluster, "--on", "id", "--values-party", "partner", "--value", "cents",
                "--to", "bank"]
    outs = _both(tmp_path, ("partner", [*sum_args, "--me", "partner", "--input", "buyers.csv"]),
                 ("bank", [*sum_args, "--me", "bank", "--input", "viewers.csv"]))
    assert 'bank: {"count": 2, "sum": 23, "noise": "none"}' in outs["bank"]


def test_a_missing_state_directory_is_explained(tmp_path):
    cluster = _cluster(tmp_path)
    out = accord("pir", "query", "--cluster", cluster, "--me", "bank", "--server", "partner", "--state", "nowhere",
                 "--input", "none.csv", "--on", "phone", "--output", "x.csv", "--timeout", "3", cwd=tmp_path)
    assert out.returncode == 2 and "run `accord pir sync` first" in out.stderr
