"""A node per party: datasets and column policies, per-job approval, a signed audit log and a web console.

``accord node serve --config node.yaml`` runs it (docs/node.md). Everything here sits above the job
runner (:mod:`accord.pipeline`): a node checks job files against its policies, signs approvals, and
launches its party's side of an approved job.

Submodules load on first use (:mod:`accord._lazy`): ``import accord.node`` needs none of the node
extra's packages (FastAPI, SQLAlchemy, argon2); using :class:`Node` does.
"""

from typing import TYPE_CHECKING

from accord._lazy import exports

if TYPE_CHECKING:
    from accord.node.config import NodeConfig, load_node_config
    from accord.node.policy import Policy, Violation, parse_policy
    from accord.node.service import Node

__all__ = ["Node", "NodeConfig", "Policy", "Violation", "load_node_config", "parse_policy"]
__getattr__, __dir__ = exports(__name__, {
    "accord.node.config": ["NodeConfig", "load_node_config"],
    "accord.node.policy": ["Policy", "Violation", "parse_policy"],
    "accord.node.service": ["Node"],
})
