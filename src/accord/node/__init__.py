"""A node per party: datasets and column policies, per-job approval, a signed audit log and a web console.

``accord node serve --config node.yaml`` runs it (docs/node.md). Everything here sits above the job
runner (:mod:`accord.pipeline`): a node checks job files against its policies, signs approvals, and
launches its party's side of an approved job.
"""
