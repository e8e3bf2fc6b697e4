"""``accord sql`` on the three-registry example: the plan, an answer, a refusal, all from the command line."""

from __future__ import annotations

import subprocess
import sys

import duckdb

from tests.procs import ROOT, write_cluster

EXAMPLE = ROOT / "examples" / "sql"
QUERY = ("SELECT r.district, COUNT(*) AS residents, SUM(t.arrears) AS arrears FROM residents r JOIN taxpayers t "
         "ON r.person_id = t.person_id WHERE t.arrears > 100 GROUP BY r.district ORDER BY r.district")


def _accord(*args: str, cwd) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "accord", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_cli_answers_explains_and_refuses(tmp_path):
    data = tmp_path / "data"
    subprocess.run([sys.executable, str(EXAMPLE / "make_registries.py"), "--persons", "4000", "--out", str(data)],
                   check=True, capture_output=True)
    catalog = EXAMPLE / "catalog.yaml"
    sources = [f"--source=residents={data / 'social.csv'}", f"--source=taxpayers={data / 'tax.csv'}",
               f"--source=customers={data / 'bank.csv'}"]
    explained = _accord("sql", QUERY, "--catalog", str(catalog), "--to", "social", "--explain", cwd=tmp_path)
    assert explained.returncode == 0, explained.stderr
    assert "grouping: public (social)" in explained.stdout and "leaks:" in explained.stdout
    out = tmp_path / "answer.csv"
    ran = _accord("sql", QUERY, "--catalog", str(catalog), "--to", "social", *sources, "--output", str(out),
                  cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    conn = duckdb.connect()
    conn.execute(f"CREATE TABLE residents AS SELECT * FROM read_csv('{data / 'social.csv'}')")
    conn.execute(f"CREATE TABLE taxpayers AS SELECT * FROM read_csv('{data / 'tax.csv'}')")
    want = conn.execute(QUERY.replace("ORDER BY", "HAVING COUNT(DISTINCT r.person_id) >= 25 ORDER BY")).fetchall()
    got = conn.execute(f"SELECT * FROM read_csv('{out}')").fetchall()
    assert [(d, n) for d, n, _ in got] == [(d, n) for d, n, _ in want]
    assert all(abs(float(a) - float(b)) < 0.005 for (_, _, a), (_, _, b) in zip(got, want))
    refused = _accord("sql", "SELECT SUM(t.arrears) FROM residents r JOIN taxpayers t ON r.person_id = t.person_id "
                      "JOIN customers c ON c.person_id = r.person_id",
                      "--catalog", str(catalog), "--to", "bank", "--explain", cwd=tmp_path)
    assert refused.returncode == 12 and "t.arrears is ENCRYPTED_ONLY for party 'bank'" in refused.stderr


def test_cli_one_process_per_party_over_mtls(tmp_path):
    """Production: each agency runs ``accord sql`` with its own --me and only its own source; social gets the answer."""
    data = tmp_path / "data"
    subprocess.run([sys.executable, str(EXAMPLE / "make_registries.py"), "--persons", "3000", "--out", str(data)],
                   check=True, capture_output=True)
    cluster = write_cluster(tmp_path, ["social", "tax", "bank"], timeout=120)
    own = {"social": ("residents", "social.csv"), "tax": ("taxpayers", "tax.csv"), "bank": ("customers", "bank.csv")}
    query = QUERY.replace("FROM residents r JOIN",
                          "FROM residents r JOIN customers c ON c.person_id = r.person_id JOIN")
    catalog = str(EXAMPLE / "catalog.yaml")
    procs = {p: subprocess.Popen([sys.executable, "-m", "accord", "sql", query, "--catalog", catalog, "--to", "social",
                                  "--cluster", str(cluster), "--me", p, f"--source={own[p][0]}={data / own[p][1]}",
                                  "--output", str(tmp_path / f"{p}.csv")],
                                 cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for p in own}
    outs = {p: proc.communicate(timeout=300) for p, proc in procs.items()}
    for p, proc in procs.items():
        assert proc.returncode == 0, f"{p}: {outs[p][1][-2000:]}"
    assert not (tmp_path / "tax.csv").exists() and not (tmp_path / "bank.csv").exists()
    conn = duckdb.connect()
    for table, file in (("residents", "social"), ("taxpayers", "tax"), ("customers", "bank")):
        conn.execute(f"CREATE TABLE {table} AS SELECT * FROM read_csv('{data / file}.csv')")
    want = conn.execute(query.replace("ORDER BY", "HAVING COUNT(DISTINCT r.person_id) >= 25 ORDER BY")).fetchall()
    got = conn.execute(f"SELECT * FROM read_csv('{tmp_path / 'social.csv'}')").fetchall()
    assert [(d, n) for d, n, _ in got] == [(d, n) for d, n, _ in want] and want
    assert all(abs(float(a) - float(b)) < 0.005 for (_, _, a), (_, _, b) in zip(got, want))
    assert "learn which of their units have a matching key" in outs["bank"][0]
