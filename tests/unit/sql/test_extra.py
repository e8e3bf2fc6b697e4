"""sqlglot and DuckDB are an optional extra: nothing else imports them, and without them accord.sql says so."""

from __future__ import annotations

import json
import subprocess
import sys

_LOADED = "import json, sys; print(json.dumps(sorted({'duckdb', 'sqlglot'} & set(sys.modules))))"


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_core_modules_and_the_cli_parser_do_not_import_the_sql_extra():
    out = _python(f"import accord, accord.errors, accord.runtime.cluster, accord.cli.main, accord.sql\n{_LOADED}")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []


def test_without_the_extra_the_package_names_it():
    out = _python("from importlib import util\nfind = util.find_spec\n"
                  "util.find_spec = lambda name, *a: None if name == 'duckdb' else find(name, *a)\nimport accord.sql")
    assert out.returncode != 0
    assert "secure SQL needs sqlglot and DuckDB (not installed: duckdb): pip install 'accord[sql]'" in out.stderr
