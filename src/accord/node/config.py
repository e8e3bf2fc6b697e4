"""The node's configuration file.

.. code-block:: yaml

    party: bank                          # this party's name in the cluster file
    cluster: cluster.yaml                # parties, gRPC addresses and certificates (as for `accord run`)
    key: certs/bank.key                  # default: the cluster file's key of this party
    listen: 127.0.0.1:8443               # the console and peer API, over TLS with the party's certificate
    state: state                         # work directories of jobs, DP ledgers (default: ./state)
    database: sqlite:///state/node.sqlite   # default; or postgresql+psycopg://user@host/db
    peers: {partner: "https://127.0.0.1:8444"}   # the other parties' nodes
    approval_days: 7                     # how long a signed approval stays valid
    auto_approve:                        # optional: approve without an operator when a rule matches
      - same_digest_within_days: 31      # this exact job file was approved within the last 31 days
    tee_audit: [tee/audit.jsonl]         # optional: key-broker logs whose releases the audit log records

Relative paths resolve against the configuration file's directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from accord.errors import ConfigurationError
from accord.runtime.config import ClusterConfig, load_cluster_config


@dataclass(frozen=True)
class NodeConfig:
    """A parsed, validated node configuration."""

    party: str
    cluster_path: Path
    cluster: ClusterConfig
    key_path: Path
    host: str
    port: int
    state: Path
    database: str
    peers: dict[str, str]
    approval_days: float = 7.0
    auto_same_digest_days: float | None = None
    tee_audit: tuple[Path, ...] = field(default=())
    source: Path = Path("node.yaml")

    @property
    def cert_pem(self) -> bytes:
        """This party's certificate (the node's TLS certificate too)."""
        return self.cluster.parties[self.party].cert_pem


def load_node_config(path: str | os.PathLike[str]) -> NodeConfig:
    """Read and validate a node configuration; errors name the field."""
    source = Path(path)
    try:
        raw = yaml.safe_load(source.read_text())
    except OSError as exc:
        raise ConfigurationError(f"cannot read node configuration {source}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"node configuration {source} is not valid YAML: {exc}") from None
    where = f"node configuration {source}"
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{where} must be a map")
    unknown = set(raw) - {"party", "cluster", "key", "listen", "state", "database", "peers", "approval_days",
                          "auto_approve", "tee_audit"}
    if unknown:
        raise ConfigurationError(f"{where}: unknown fields {sorted(unknown)}")
    base = source.parent
    for name in ("party", "cluster"):
        if not isinstance(raw.get(name), str) or not raw[name]:
            raise ConfigurationError(f"{where}: {name!r} is required (a string)")
    party = raw["party"]
    cluster_path = (base / raw["cluster"]).resolve()
    cluster = load_cluster_config(cluster_path)
    if party not in cluster.parties:
        raise ConfigurationError(f"{where}: party {party!r} is not in cluster file {cluster_path}")
    key = raw.get("key")
    key_path = (base / key).resolve() if isinstance(key, str) else cluster.parties[party].key_path
    if key_path is None:
        raise ConfigurationError(f"{where}: no private key: set 'key' or parties.{party}.key in {cluster_path}")
    host, _, port = str(raw.get("listen", "127.0.0.1:8443")).rpartition(":")
    if not host or not port.isdigit():
        raise ConfigurationError(f"{where}: listen must be host:port, got {raw.get('listen')!r}")
    state = (base / str(raw.get("state", "state"))).resolve()
    database = str(raw.get("database") or f"sqlite:///{state / 'node.sqlite'}")
    peers = raw.get("peers") or {}
    if not isinstance(peers, dict) or not all(isinstance(u, str) and u.startswith("https://") for u in peers.values()):
        raise ConfigurationError(f"{where}: peers must map party names to https:// URLs of their nodes")
    strangers = set(peers) - set(cluster.parties) | ({party} & set(peers))
    if strangers:
        raise ConfigurationError(f"{where}: peers {sorted(strangers)} are not other parties of the cluster file")
    return NodeConfig(party=party, cluster_path=cluster_path, cluster=cluster, key_path=key_path, host=host,
                      port=int(port), state=state, database=database,
                      peers={str(k): v.rstrip("/") for k, v in peers.items()},
                      approval_days=_positive(raw.get("approval_days", 7), "approval_days", where),
                      auto_same_digest_days=_auto(raw.get("auto_approve"), where),
                      tee_audit=tuple((base / p).resolve() for p in raw.get("tee_audit") or []), source=source)


def _positive(value: Any, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigurationError(f"{where}: {name} must be a positive number, got {value!r}")
    return float(value)


def _auto(raw: Any, where: str) -> float | None:
    if not raw:
        return None
    if not isinstance(raw, list) or not all(isinstance(r, dict) and set(r) == {"same_digest_within_days"}
                                            for r in raw):
        raise ConfigurationError(f"{where}: auto_approve lists rules such as {{same_digest_within_days: 31}}, "
                                 f"got {raw!r}")
    return max(_positive(r["same_digest_within_days"], "same_digest_within_days", where) for r in raw)
