"""`accord pir` end to end: build at the server, sync and query as two operator processes, PSI-sum, bad input."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys

import pandas as pd
import yaml

from tests.e2e.test_cli import _cluster, accord, start
from tests.procs import ROOT, free_ports


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


def _doc_blocks() -> list[list[str]]:
    """The shell blocks of docs/pir.md's command-line section, one list of command lines per block."""
    text = (ROOT / "docs" / "pir.md").read_text()
    section = text[text.index("## Command line"):text.index("## Measured")]
    return [[line for line in block.splitlines() if line.strip()] for block in re.findall(r"```bash\n(.*?)```",
                                                                                          section, re.S)]


def _run_together(lines: list[str], cwd) -> dict[str, str]:
    """Run the documented commands of one step at once (one process per party); stdout by ``--me``."""
    procs = {}
    for line in lines:
        args = shlex.split(line)
        assert args[:2] == ["accord", "pir"], line
        procs[args[args.index("--me") + 1]] = start(*args[1:], cwd=cwd)
    outs = {}
    for me, proc in procs.items():
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, f"{me}: {err[-3000:]}"
        outs[me] = out
    return outs


def test_the_documented_commands_run_as_written(tmp_path):
    setup, fraud, ads, debt = _doc_blocks()
    assert setup[0] == "python -m examples.make_pir_data --out data --phones 1000000"
    made = subprocess.run(shlex.split(setup[0].replace("1000000", "3000").replace("python", sys.executable, 1)),
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    for line in setup[1:]:
        args = shlex.split(line)
        out = accord(*args[1:], cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        path = tmp_path / args[args.index("--cluster") + 1]  # free ports and short waits on a shared machine
        cfg = yaml.safe_load(path.read_text())
        for party, port in zip(cfg["parties"], free_ports(len(cfg["parties"]))):
            cfg["parties"][party]["address"] = f"127.0.0.1:{port}"
        cfg.update(connect_timeout=10, timeout=60)
        path.write_text(yaml.safe_dump(cfg))
    data = tmp_path / "data"

    built = accord(*shlex.split(fraud[0])[1:], cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    _run_together(fraud[1:3], tmp_path)
    _run_together(fraud[3:5], tmp_path)
    flagged = pd.read_csv(data / "flagged.csv", dtype=str).set_index("phone")
    answers = pd.read_csv(tmp_path / "answers.csv", dtype=str, keep_default_na=False)
    applicants = pd.read_csv(data / "applicants.csv", dtype=str)["phone"]
    assert list(answers["phone"]) == list(dict.fromkeys(applicants))
    assert list(answers["matched"] == "True") == [p in flagged.index for p in answers["phone"]]
    hits = answers[answers["matched"] == "True"]
    assert len(hits) > 0 and list(hits["risk"]) == list(flagged.loc[hits["phone"], "risk"])
    assert list(hits["since"]) == list(flagged.loc[hits["phone"], "since"])

    outs = _run_together(ads, tmp_path)
    viewers = set(pd.read_csv(data / "viewers.csv", dtype=str)["id"])
    buys = pd.read_csv(data / "purchases.csv", dtype={"id": str})
    shared = buys[buys["id"].isin(viewers)]
    expected = {"count": shared["id"].nunique(), "sum": int(shared["cents"].sum()), "noise": "none"}
    assert f"platform: {json.dumps(expected)}" in outs["platform"]

    _run_together(debt, tmp_path)
    books = pd.concat([pd.read_csv(data / f"lender{k}.csv", dtype={"id": str}) for k in (1, 2, 3)])
    owed = books.groupby("id")["owed"].sum()
    totals = pd.read_csv(tmp_path / "totals.csv", dtype={"id": str})
    borrowers = pd.read_csv(data / "borrowers.csv", dtype=str)["id"]
    assert list(totals["id"]) == list(borrowers)
    assert list(totals["total_debt"]) == [int(owed.get(i, 0)) for i in borrowers]
    assert (totals["total_debt"] > 0).sum() > len(borrowers) // 4
