"""Job files: a YAML description of a vertical modelling job that every party runs and approves.

.. code-block:: yaml

    job: credit-risk
    parties:
      bank:    {input: data/bank.csv, key: id, label: default, output: out/bank}
      partner: {input: data/partner.csv, key: id, output: out/partner, features: [LIMIT_BAL, AGE, EDUCATION]}
      # optional: `positive: bad` (the label's positive class when it is text), `categorical: [EDUCATION]`
      # (integer-coded columns to split as categories; text columns always are)
    psi: {protocol: auto}                         # auto (default: rr22 for joins), rr22, kkrt or ecdh
    split: {test_fraction: 0.3, seed: 7}          # public, by a hash of the key: same rows at every party
    models:
      - secureboost: {n_trees: 5, max_depth: 4, learning_rate: 0.3}
      - logistic_regression: {epochs: 5, batch_size: 256, learning_rate: 1.0, l2: 0.001, mpc: {mode: ot}}
    evaluate: {threshold: 0.5, plots: true}      # label_names: {positive: defaulters, negative: repaid}
    score:                                        # `accord score`: new rows, same columns
      bank: {input: data/bank_new.csv, output: out/bank/scores.csv}
      partner: {input: data/partner_new.csv}
    security: {key_bits: 2048}
    dp:                                           # optional: DP summaries of each party's columns
      ledger: {epsilon: 3.0, delta: 1.0e-6}
      summaries: {epsilon: 1.0, bank: {PAY_0: [-2, 8]}, partner: {AGE: [18, 80]}}

A party's ``features`` lists the columns its models use (default: every column but the key and the
label); a node's column policies are checked against it. Every party must hold the same job file
(the runner compares a digest of its text before anything runs). Input paths resolve against the job
file's directory. Output paths (``output``, ``score.<party>.output``) must be relative: they resolve
inside the party's own output base, which each party sets for itself (:class:`LocalSettings`,
``accord run --out-dir``; default the job file's directory), so a job file written by a peer cannot
make a party write anywhere else. A party may also replace its own input and output paths locally;
such settings are not part of the job file and do not change its digest.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from accord.dp.ledger import check_dataset
from accord.errors import ConfigurationError
from accord.pipeline.privacy import DPJob, parse_dp
from accord.pipeline.workloads import WorkloadSpec, localise, parse_workload

MODEL_KINDS = ("secureboost", "logistic_regression")


@dataclass(frozen=True)
class PartySpec:
    """One party's part of a job."""

    name: str
    input: Path
    key: list[str]
    output: Path
    label: str | None = None
    positive: str | None = None
    categorical: tuple[str, ...] = ()
    dataset: str | None = None
    features: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ScoreSpec:
    """One party's part of ``accord score``: new rows, and (at the label holder) where the scores go.

    ``output`` defaults to ``scores.csv`` in the party's output directory.
    """

    input: Path
    output: Path | None = None


@dataclass(frozen=True)
class LocalSettings:
    """What a party sets for itself, outside the shared job file (so not part of its digest).

    Parameters
    ----------
    out_dir:
        Base directory that every output path of the job file must stay inside (default: the job
        file's directory).
    input, output:
        This party's training input and output directory, replacing ``parties.<me>.input/output``.
    score_input, scores:
        This party's rows to score and scores file, replacing ``score.<me>.input/output``.
    state_dir:
        This party's state directory (its privacy-budget ledgers), default ``$ACCORD_STATE_DIR``.
    cluster:
        The party names of this party's cluster file: a job naming another party is refused.
    """

    out_dir: Path | None = None
    input: Path | None = None
    output: Path | None = None
    score_input: Path | None = None
    scores: Path | None = None
    state_dir: Path | None = None
    cluster: tuple[str, ...] | None = None

    def overrides(self) -> list[str]:
        """The names of the per-party paths set here."""
        return [n for n in ("input", "output", "score_input", "scores") if getattr(self, n) is not None]


@dataclass(frozen=True)
class JobSpec:
    """A parsed, validated job file."""

    name: str
    parties: dict[str, PartySpec]
    test_fraction: float
    seed: int
    models: list[tuple[str, dict[str, Any]]]
    threshold: float
    plots: bool
    score: dict[str, ScoreSpec]
    key_bits: int
    digest: str
    source: Path
    psi_protocol: str = "auto"
    label_names: tuple[str, str] | None = None  # (positive, negative) in the job's words, for plots
    dp: DPJob | None = None
    state_dir: Path | None = None  # this party's own setting (not in the job file)
    sha256: str = ""  # the full SHA-256 of the job file's text: what a node approves

    @property
    def label_party(self) -> str:
        """The party holding the label."""
        return next(p.name for p in self.parties.values() if p.label)

    @property
    def dealers(self) -> list[str]:
        """Third parties the models' MPC settings name as dealers (they hold no data)."""
        names = [dict(params.get("mpc") or {}).get("dealer") for _, params in self.models]
        return sorted({n for n in names if n})

    @property
    def participants(self) -> list[str]:
        """Every party that runs the job: the data holders and any dealer."""
        return [*self.parties, *self.dealers]


def load_job(path: str | os.PathLike[str], *, me: str | None = None,
             local: LocalSettings | None = None) -> JobSpec | WorkloadSpec:
    """Read and validate a job file; errors name the field and what was expected.

    ``me`` is the party this process runs (``None``: every party, in simulation); ``local`` holds its
    own settings. Output paths are resolved and confined only for the parties hosted here.
    """
    source = Path(path)
    local = local or LocalSettings()
    try:
        text = source.read_text()
        raw = yaml.safe_load(text)
    except OSError as exc:
        raise ConfigurationError(f"cannot read job file {source}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"job file {source} is not valid YAML: {exc}") from None
    where = f"job file {source}"
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{where} must be a map")
    if raw.get("kind", "model") != "model":  # a lookup job (accord.pipeline.workloads)
        return _workload(raw, text, source, me, local)
    raw = {k: v for k, v in raw.items() if k != "kind"}
    unknown = set(raw) - {"job", "parties", "psi", "split", "models", "evaluate", "score", "security", "dp"}
    if unknown:
        raise ConfigurationError(f"{where}: unknown fields {sorted(unknown)}")
    jobdir = source.parent
    base = Path(local.out_dir) if local.out_dir is not None else jobdir
    parties = raw.get("parties")
    if not isinstance(parties, dict) or len(parties) != 2:
        raise ConfigurationError(f"{where}: 'parties' must map exactly two party names (the label holder and its "
                                 "partner) to their inputs")
    specs = {str(n): _party(str(n), e, jobdir, base, where) for n, e in parties.items()}
    labelled = [p.name for p in specs.values() if p.label]
    if len(labelled) != 1:
        raise ConfigurationError(f"{where}: exactly one party must name a 'label' column, got {labelled}")
    psi = raw.get("psi", {}) or {}
    if (not isinstance(psi, dict) or set(psi) - {"protocol"}
            or psi.get("protocol", "auto") not in ("auto", "rr22", "kkrt", "ecdh")):
        raise ConfigurationError(f"{where}: 'psi' takes only protocol: auto, rr22, kkrt or ecdh, got {psi!r}")
    split = raw.get("split", {}) or {}
    fraction = split.get("test_fraction", 0.3)
    if not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise ConfigurationError(f"{where}: split.test_fraction must be between 0 and 1, got {fraction!r}")
    models = _models(raw.get("models", []) or [], specs, where)
    evaluate = raw.get("evaluate", {}) or {}
    score = {}
    for name, entry in (raw.get("score", {}) or {}).items():
        if name not in specs or not isinstance(entry, dict) or "input" not in entry or set(entry) - {"input", "output"}:
            raise ConfigurationError(f"{where}: score.{name} must name a party of the job, its 'input' and "
                                     "optionally its 'output'")
        output = _output(entry["output"], base, f"score.{name}.output", where) if "output" in entry else None
        score[name] = ScoreSpec(_input(entry["input"], jobdir, f"score.{name}.input", where), output)
    security = raw.get("security", {}) or {}
    spec = JobSpec(
        name=str(raw.get("job", source.stem)), parties=specs, test_fraction=float(fraction),
        seed=int(split.get("seed", 0)), models=models, threshold=float(evaluate.get("threshold", 0.5)),
        plots=bool(evaluate.get("plots", True)), score=score, key_bits=int(security.get("key_bits", 2048)),
        psi_protocol=str(psi.get("protocol", "auto")), dp=parse_dp(raw.get("dp"), list(specs), where),
        label_names=_label_names(evaluate, where),
        digest=hashlib.sha256(text.encode()).hexdigest()[:16], source=source,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
    )
    missing = [p for p in spec.participants if local.cluster is not None and p not in local.cluster]
    if missing:
        raise ConfigurationError(f"{where}: parties {missing} are not in the cluster file (it lists "
                                 f"{list(local.cluster or ())})")
    return _localise(spec, me, local, base, where)


def _workload(raw: dict[str, Any], text: str, source: Path, me: str | None, local: LocalSettings) -> WorkloadSpec:
    if local.score_input is not None or local.scores is not None:
        raise ConfigurationError(f"job file {source} is a {raw.get('kind')} job: it has nothing to score")
    base = Path(local.out_dir) if local.out_dir is not None else source.parent
    spec = parse_workload(raw, text, source, base, cluster=local.cluster)
    return localise(spec, me, input=local.input, output=local.output, state_dir=local.state_dir, root=base)


def _label_names(evaluate: Any, where: str) -> tuple[str, str] | None:
    """``evaluate.label_names: {positive: ..., negative: ...}``: how plots name the two classes."""
    if not isinstance(evaluate, dict):
        raise ConfigurationError(f"{where}: 'evaluate' must be a map, got {evaluate!r}")
    names = evaluate.get("label_names")
    if names is None:
        return None
    if (not isinstance(names, dict) or set(names) != {"positive", "negative"}
            or not all(isinstance(v, str) and v for v in names.values())):
        raise ConfigurationError(f"{where}: evaluate.label_names must be {{positive: <name>, negative: <name>}}, "
                                 f"got {names!r}")
    return names["positive"], names["negative"]


def _models(entries: Any, specs: dict[str, PartySpec], where: str) -> list[tuple[str, dict[str, Any]]]:
    models: list[tuple[str, dict[str, Any]]] = []
    if not isinstance(entries, list):
        raise ConfigurationError(f"{where}: 'models' must be a list")
    for entry in entries:
        if not isinstance(entry, dict) or len(entry) != 1 or next(iter(entry)) not in MODEL_KINDS:
            raise ConfigurationError(f"{where}: each entry of 'models' must be one of {MODEL_KINDS} with its "
                                     f"parameters, got {entry!r}")
        kind, params = next(iter(entry.items()))
        if any(k == kind for k, _ in models):  # each kind is saved under models/<kind>
            raise ConfigurationError(f"{where}: 'models' lists {kind} twice; each kind may appear once")
        models.append((kind, dict(params or {})))
    if not models:
        raise ConfigurationError(f"{where}: 'models' lists nothing to train")
    for _, params in models:
        if dict(params.get("mpc") or {}).get("mode") == "insecure-self-dealer":  # caught before anything runs
            raise ConfigurationError(f"{where}: mpc mode 'insecure-self-dealer' is INSECURE and for tests only; job "
                                     "files may use mode: ot or dealer: <third party>")
        dealer = dict(params.get("mpc") or {}).get("dealer")
        if dealer is not None and dealer in specs:
            raise ConfigurationError(f"{where}: the dealer {dealer!r} must be a third party, not a data holder")
    return models


def _party(name: str, entry: Any, jobdir: Path, base: Path, where: str) -> PartySpec:
    if not isinstance(entry, dict) or "input" not in entry or "key" not in entry:
        raise ConfigurationError(f"{where}: party {name!r} needs 'input' and 'key'")
    unknown = set(entry) - {"input", "key", "label", "output", "positive", "categorical", "dataset",
                            "features"}
    if unknown:
        raise ConfigurationError(f"{where}: party {name!r} has unknown fields {sorted(unknown)}")
    key = entry["key"]
    keys = [key] if isinstance(key, str) else list(key)
    if not keys or not all(isinstance(k, str) and k for k in keys):
        raise ConfigurationError(f"{where}: parties.{name}.key must be a column name or a list of them, got {key!r}")
    label = entry.get("label")
    if label is not None and (not isinstance(label, str) or not label):
        raise ConfigurationError(f"{where}: parties.{name}.label must be a column name, got {label!r}")
    categorical = entry.get("categorical") or []
    if not isinstance(categorical, list) or not all(isinstance(c, str) for c in categorical):
        raise ConfigurationError(f"{where}: parties.{name}.categorical must be a list of column names")
    if "positive" in entry and not label:
        raise ConfigurationError(f"{where}: parties.{name}.positive needs a 'label'")
    positive = entry.get("positive")
    dataset = entry.get("dataset")
    if dataset is not None:
        check_dataset(dataset)
    features = entry.get("features")
    if features is not None and (not isinstance(features, list) or not features
                                 or not all(isinstance(c, str) and c for c in features)
                                 or set(features) & {*keys, label} or len(set(features)) != len(features)):
        raise ConfigurationError(f"{where}: parties.{name}.features must list distinct column names other than the "
                                 f"key and the label, got {features!r}")
    return PartySpec(name, _input(entry["input"], jobdir, f"parties.{name}.input", where), keys,
                     _output(entry.get("output", f"out/{name}"), base, f"parties.{name}.output", where), label,
                     None if positive is None else str(positive), tuple(categorical), dataset,
                     tuple(features) if features is not None else None)


def _input(value: Any, jobdir: Path, field: str, where: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{where}: {field} must be a file path, got {value!r}")
    return (jobdir / value).resolve()


def _output(value: Any, base: Path, field: str, where: str) -> Path:
    """``base / value`` for a relative path without ``..``: a job file cannot name a place outside the base."""
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{where}: {field} must be a relative path, got {value!r}")
    path = Path(value)
    if path.is_absolute() or ".." in path.parts:
        raise ConfigurationError(
            f"{where}: {field} is {value!r}, but output paths in a job file must be relative and stay inside the "
            "party's output directory (no absolute paths, no '..'); each party chooses that directory itself "
            "with --out-dir or ACCORD_OUT_DIR, or replaces its own paths with --output")
    return base / path


def _localise(spec: JobSpec, me: str | None, local: LocalSettings, base: Path, where: str) -> JobSpec:
    """Resolve the hosted parties' paths: this party's own settings, else the job file's, confined to ``base``."""
    overrides = local.overrides()
    if overrides and me is None:
        raise ConfigurationError(f"local paths ({', '.join(overrides)}) need the party they belong to (--me)")
    if me is not None and me not in spec.participants:
        raise ConfigurationError(f"party {me!r} takes no part in job {spec.name!r}; it names {spec.participants}")
    if overrides and me not in spec.parties:
        raise ConfigurationError(f"party {me!r} is a dealer of job {spec.name!r}: it has no input or output paths")
    root = base.resolve()
    parties, score = dict(spec.parties), dict(spec.score)
    for name in [n for n in parties if me in (None, n)]:
        own = parties[name]
        output = _local(local.output) or _within(own.output, root, f"parties.{name}.output", where)
        parties[name] = replace(own, input=_local(local.input) or own.input, output=output)
        if name in score:
            job = score[name]
            scores = _local(local.scores) or (_within(job.output, root, f"score.{name}.output", where)
                                              if job.output is not None else output / "scores.csv")
            score[name] = ScoreSpec(_local(local.score_input) or job.input, scores)
        elif local.score_input is not None or local.scores is not None:
            raise ConfigurationError(f"{where} has no 'score' entry for {name!r} whose paths could be replaced")
    return replace(spec, parties=parties, score=score, state_dir=_local(local.state_dir))


def _local(path: Path | str | None) -> Path | None:
    return Path(path).resolve() if path is not None else None


def _within(path: Path, root: Path, field: str, where: str) -> Path:
    """``path`` resolved, or an error if it leaves ``root`` (through a symbolic link) or is ``root`` itself."""
    resolved = path.resolve()
    if resolved == root or not resolved.is_relative_to(root):
        raise ConfigurationError(f"{where}: {field} resolves to {resolved}, which is not inside the output "
                                 f"directory {root} (a symbolic link leads out of it, or it names the directory "
                                 "itself)")
    return resolved
