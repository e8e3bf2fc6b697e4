"""Events recorded elsewhere on the party's machine, copied once into the node's audit log.

DP budget charges live in each dataset's ledger and TEE key releases in the key broker's own
hash-chained log. The node verifies a broker log's chain before it reads it, and records each charge
or release once (keyed by ledger and release id, or by the broker entry's hash), so the node's log
is the one place that lists what was revealed, charged and released.
"""

from __future__ import annotations

import time

from sqlalchemy import insert, select

from accord.errors import AccordError
from accord.governance.chain import verify_log
from accord.node import datasets as ds
from accord.node import ledgers, schema
from accord.node.service import Node


def import_events(node: Node) -> int:
    """Copy new DP charges and TEE key releases into the audit log; returns how many were added."""
    found: list[tuple[str, str, dict[str, object]]] = []
    with node.store.read() as conn:
        names = [d.name for d in ds.all_datasets(conn)]
    for name in names:
        for charge in ledgers.charges(node.config.state, name):
            found.append((f"dp:{name}:{charge['release']}", "dp charge",
                          {"dataset": name, "release": charge["release"], "job_name": charge["job"],
                           "costs": charge["costs"], "spent_after": charge["spent_after"]}))
    for path in node.config.tee_audit:
        if not path.exists():
            continue
        try:
            entries = verify_log(path)
        except AccordError as exc:
            found.append((f"tee-broken:{path}:{int(time.time() // 3600)}", "tee log broken",
                          {"log": str(path), "error": str(exc)}))
            continue
        for entry in entries:
            if entry.get("event") in ("release", "refusal"):
                found.append((f"tee:{entry['hash']}", f"tee key {entry['event']}",
                              {"log": str(path), "broker_seq": entry["seq"], "broker_hash": entry["hash"],
                               **{k: entry[k] for k in ("dataset", "job", "evidence_kind", "recipients", "check",
                                                        "reason", "warning") if k in entry}}))
    added = 0
    with node.store.write() as conn:
        seen = set(conn.execute(select(schema.imported.c.source)).scalars())
        for source, event, fields in found:
            if source[:300] in seen:
                continue
            conn.execute(insert(schema.imported).values(source=source[:300], at=time.time()))
            node.store.audit(conn, event, **fields)
            added += 1
    return added
