"""Does pay follow contribution? Paired designs driven through the round computation itself.

    PYTHONPATH=. .venv/bin/python bench/fidelity.py [--json] [--seeds 3] [--only NAME ...]

Every round here runs :func:`marketplace.protocol.round_compute.compute_round` — the code the
coordinator settles with and the audit recomputes — on a :class:`MemoryStore`, with synthetic
round inputs (no chain). The task spec is the demo's: digits (1,797 8x8 images, 20 % held out
as the 360-sample validation set), MLP 64-64-10, 5 local epochs of SGD with momentum (lr 0.1,
batch 32), the coordinator's defaults for everything else. Designs are *paired*: the
conditions compared share the global model and every other participant's update, and several
training seeds are drawn per condition. Figures are means over ``--seeds`` world seeds.

Figures (targets from fedmarket issue 11):

* ``near_zero_share``        share of the round budget paid to a participant that returns the
                             global model plus Gaussian noise of relative norm 1e-6, 1e-4,
                             1e-2 and 0.1 (× ‖θ‖; 0.1 is an honest update's size)      (≤ 1 %)
* ``sybil_gain_points``      one participant's data split evenly over k = 2, 3, 5 identities:
                             the identities' combined share minus the unsplit share, in
                             percentage points, per k                                   (≤ 0)
* ``copier_share``           a copy of the best-paid update plus noise of relative norm 1e-3,
                             0.03, 0.1 (× ‖Δ‖), committed after the original            (≤ 1 %)
* ``original_pay_ratio``     the original's pay with that copier present ÷ without     (≥ 0.9)
* ``exact_copy_earlier_ratio``  an exact copy (same bytes, same CID) committed later: the
                             original's pay with it ÷ without                           (≥ 0.9)
* ``spearman``               Spearman(cumulative pay over 5 rounds, label quality) for 10
                             clients on a 0–50 % label-noise ladder, per Dirichlet α
                             (10, 1, 0.5; equal-sized clients, see below)   (≥ 0.95, 0.85, 0.6);
                             ``details.ladder.spearman_10_rounds`` is the same runs after 10
* ``seed_drift_l1``          L1 distance between the 5-round cumulative payouts of two runs
                             that differ only in one participant's training seed, ÷ the
                             5-round budget, α = 1                                      (≤ 0.10)
* ``pearson_min``            the lowest per-round Pearson(value the payout follows, payout)
                             over the honest ladder rounds (α = 1), mean over seeds    (≥ 0.95)
* ``details.quitter``        (no target) the share a participant with three honest rounds
                             behind it still earns in rounds 4 and 5, in which it sends a
                             near-null update
* ``n100_seconds``           wall time of one 100-participant round (compute_round)     (≤ 60 s)
* ``n100_rel_l2``            its values against a long stratified Shapley reference of the
                             same game (relative L2)                                    (≤ 5 %)

Label-noise ladder: the Dirichlet partition (label skew from α) is cut to equal sizes (every
client keeps a random subset the size of the smallest), so that label quality is the only thing
that differs systematically between clients' data amounts; ``details.spearman_unbalanced``
repeats the figure with the Dirichlet sizes as drawn, where data quantity — which is
contribution too, and which the default game pays for — competes with quality.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from marketplace.protocol.dataset import Dataset
from marketplace.protocol.round_compute import (
    Reveal,
    RoundInputs,
    RoundOutcome,
    compute_round,
)
from marketplace.protocol.task_spec import TaskSpec, TrainingConfig, ValuationConfig
from marketplace.protocol.weights import decode_weights, encode_weights, sha256_hex
from marketplace.storage import MemoryStore
from participant.data import (
    dirichlet_partition,
    flip_labels,
    load_digits,
    rng_for,
    train_validation_split,
)
from participant.training import initial_params, train_local
from valuation.fairness import pearson
from valuation.model_spec import ModelSpec, parameter_shapes

Params = dict[str, np.ndarray]

MODEL = ModelSpec("mlp", (64,), 10, hidden=(64, 64))
TRAINING = TrainingConfig(epochs=5, lr=0.1, batch_size=32, optimizer="momentum")
BUDGET = 1000 * 10**18  # the demo's round budget in base units
ROUNDS = 5
LONGER_ROUNDS = 10  # the label-noise ladder also reports Spearman after this many rounds
NEAR_ZERO_LEVELS = (1e-6, 1e-4, 1e-2, 1e-1)
COPY_LEVELS = (1e-3, 0.03, 0.1)
EVASION_LEVELS = (0.3, 1.0)  # copy noise beyond the duplicate threshold (details only)
SYBIL_KS = (2, 3, 5)
ALPHAS = (10.0, 1.0, 0.5)
TRAIN_SEEDS = (0, 1)  # training seeds per condition in the paired single-round designs
DRIFT_CLIENTS = (0, 4, 9)  # whose training seed changes in the drift design

#: The valuation policy every round runs with: the coordinator's defaults, unless
#: ``--valuation '{"coalition_model": "reweighted", ...}'`` overrides fields (ablations).
POLICY = ValuationConfig()

TARGETS: dict[str, tuple[str, float]] = {
    "near_zero_share": ("<=", 0.01),
    "sybil_gain_points.2": ("<=", 0.0),
    "sybil_gain_points.3": ("<=", 0.0),
    "sybil_gain_points.5": ("<=", 0.0),
    "copier_share": ("<=", 0.01),
    "original_pay_ratio": (">=", 0.9),
    "exact_copy_earlier_ratio": (">=", 0.9),
    "spearman.10": (">=", 0.95),
    "spearman.1": (">=", 0.85),
    "spearman.0.5": (">=", 0.6),
    "seed_drift_l1": ("<=", 0.10),
    "pearson_min": (">=", 0.95),
    "n100_seconds": ("<=", 60.0),
    "n100_rel_l2": ("<=", 0.05),
}


# -- the world: data, clients, training ---------------------------------------------------


def address(name: str) -> str:
    """A stable checksummed address for a participant name."""
    from web3 import Web3

    return str(Web3.to_checksum_address("0x" + hashlib.sha256(name.encode()).hexdigest()[:40]))


@dataclass
class Client:
    """One data owner: its (possibly noisy) training data."""

    name: str
    X: np.ndarray
    y: np.ndarray
    noise: float = 0.0

    @property
    def n(self) -> int:
        return int(self.y.shape[0])

    def train(self, theta: Params, seed: int, epochs: int = TRAINING.epochs) -> Params:
        return train_local(
            MODEL,
            theta,
            self.X,
            self.y,
            epochs=epochs,
            lr=TRAINING.lr,
            batch_size=TRAINING.batch_size,
            optimizer=TRAINING.optimizer,
            seed=seed,
        )

    def split(self, k: int, seed: int) -> list[Client]:
        """``k`` identities holding an even random split of this client's data."""
        order = rng_for(seed).permutation(self.n)
        return [
            Client(f"{self.name}/{j}", self.X[np.sort(part)], self.y[np.sort(part)], self.noise)
            for j, part in enumerate(np.array_split(order, k))
        ]


@dataclass
class World:
    """The validation set and the clients of one seed."""

    seed: int
    validation: Dataset
    clients: list[Client]

    @classmethod
    def build(
        cls,
        seed: int,
        n: int,
        alpha: float,
        noise: Sequence[float] | None = None,
        *,
        balance: bool = False,
        equal: bool = False,
        min_size: int = 10,
    ) -> World:
        """``balance``: NIID-Bench's size balancing; ``equal``: then every part is cut to the
        smallest one's size (a random subset), so sizes are exactly equal."""
        train, validation = train_validation_split(load_digits(), 0.2, seed=seed)
        parts = dirichlet_partition(
            train.y, n, alpha, seed=seed, min_size=min_size, balance=balance or equal
        )
        if equal:
            smallest = min(len(p) for p in parts)
            rng = rng_for(seed + 99)
            parts = [np.sort(rng.choice(p, size=smallest, replace=False)) for p in parts]
        noise = list(noise) if noise is not None else [0.0] * n
        clients = []
        for i, idx in enumerate(parts):
            y = flip_labels(train.y[idx], noise[i], 10, seed=seed * 1000 + i)
            clients.append(Client(f"c{i}", train.X[idx], y, noise[i]))
        return cls(seed, validation, clients)

    def warm_model(self, rounds: int = 1) -> Params:
        """The initial model after ``rounds`` unvalued FedAvg rounds of every client."""
        theta = initial_params(MODEL, self.seed)
        total = sum(c.n for c in self.clients)
        for r in range(rounds):
            updates = [c.train(theta, 10_000 + 100 * r + i) for i, c in enumerate(self.clients)]
            theta = {
                k: (
                    theta[k]
                    + sum(
                        c.n * u[k].astype(np.float64)
                        for c, u in zip(self.clients, updates, strict=True)
                    )
                    / total
                ).astype(np.float32)
                for k in theta
            }
        return theta


# -- one round through compute_round --------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    """A revealed update: who, what (params or raw bytes), its claimed sample count."""

    name: str
    update: Params | bytes
    num_samples: int


@dataclass
class RoundResult:
    """A round's payouts and values by participant name, and the new global model."""

    outcome: RoundOutcome
    names: dict[str, str]  # address -> name
    theta: Params

    @property
    def payouts(self) -> dict[str, int]:
        paid = self.outcome.report.round_payouts
        return {name: int(paid.get(a, 0)) for a, name in self.names.items()}

    def share(self, *names: str) -> float:
        return sum(self.payouts[n] for n in names) / self.outcome.report.round_budget

    @property
    def values(self) -> dict[str, float]:
        c = self.outcome.report.contributions()
        return {self.names[a]: v for a, v in c.items()}

    @property
    def pay_basis(self) -> dict[str, float]:
        """The values the payouts follow (the round's values unless the report says more)."""
        record = self.outcome.report.valuation or {}
        basis = record.get("pay_basis")
        if basis is None:
            return self.values
        return {self.names[a]: float(v) for a, v in zip(record["participants"], basis, strict=True)}


@dataclass
class Task:
    """A task spec and the state a sequence of rounds carries (its store, previous report)."""

    spec: TaskSpec
    validation: Dataset
    store: MemoryStore = field(default_factory=MemoryStore)
    round: int = 0
    previous: RoundOutcome | None = None

    @classmethod
    def create(cls, validation: Dataset, valuation: ValuationConfig | None = None) -> Task:
        valuation = valuation or POLICY
        spec = TaskSpec(
            name="digits (fidelity bench)",
            model=MODEL,
            validation_sha256=hashlib.sha256(b"bench").hexdigest(),
            validation_size=len(validation.y),
            training=TRAINING,
            valuation=valuation,
        )
        return cls(spec, validation)

    def run(self, theta: Params, subs: Sequence[Submission], *, seed: int) -> RoundResult:
        """One round: store the model and updates, then compute_round; the state moves on."""
        self.round += 1
        store = self.store
        model_cid = store.add(encode_weights(theta)).cid
        reveals, names = [], {}
        for sub in subs:
            blob = sub.update if isinstance(sub.update, bytes) else encode_weights(sub.update)
            cid = store.add(blob).cid
            addr = address(sub.name)
            names[addr] = sub.name
            reveals.append(Reveal(addr, cid, sha256_hex(blob), int(sub.num_samples)))
        reveals.sort(key=lambda r: r.participant.lower())
        extra = round_extras(self, subs)
        inputs = RoundInputs(
            task_id=1,
            round=self.round,
            marketplace=address("marketplace"),
            chain_id=31337,
            spec_cid=store.add(self.spec.to_json()).cid,
            spec=self.spec,
            global_model_cid=model_cid,
            reveals=reveals,
            replayed_cids=frozenset(),
            seed=int.from_bytes(hashlib.sha256(f"{seed}:{self.round}".encode()).digest()[:7]),
            seed_source={},
            round_budget=BUDGET,
            previous_report_cid="",
            **extra,
        )
        outcome = compute_round(inputs, store, self.validation)
        self.previous = outcome
        shapes = parameter_shapes(MODEL)
        new_theta = decode_weights(store.cat_bytes(outcome.new_global_cid), shapes)
        return RoundResult(outcome, names, new_theta)

    def fork(self) -> Task:
        """A copy that continues from the same state (for paired conditions)."""
        return dataclasses.replace(self)


def round_extras(task: Task, subs: Sequence[Submission]) -> dict[str, Any]:
    """Inputs that only newer round computations take: the commit order (the submissions'
    order here) and the evidence carried from the previous round's report."""
    names = {f.name for f in dataclasses.fields(RoundInputs)}
    extra: dict[str, Any] = {}
    if "commit_order" in names:
        extra["commit_order"] = tuple(address(s.name) for s in subs)
    if "previous_evidence" in names and task.previous is not None:
        extra["previous_evidence"] = task.previous.evidence
    return extra


def noise_like(params: Params, norm: float, seed: int) -> Params:
    """Gaussian noise with total L2 norm ``norm`` in the shapes of ``params``."""
    rng = rng_for(seed)
    raw = {k: rng.standard_normal(v.shape) for k, v in sorted(params.items())}
    scale = norm / math.sqrt(sum(float(np.sum(v * v)) for v in raw.values()))
    return {k: (v * scale).astype(np.float32) for k, v in raw.items()}


def norm_of(params: Params) -> float:
    return math.sqrt(sum(float(np.sum(np.asarray(v, np.float64) ** 2)) for v in params.values()))


def plus(a: Params, b: Params) -> Params:
    return {k: (a[k].astype(np.float64) + b[k]).astype(np.float32) for k in a}


# -- the figures ---------------------------------------------------------------------------


DEMO_NOISE = (0.0, 0.0, 0.0, 0.5, 0.0)  # the demo: three honest, one label_noise:0.5, one more
DEMO_ALPHA = 0.8


def demo_world(seed: int) -> World:
    """The demo's five data owners (Dirichlet α = 0.8); the fifth is the one under test."""
    return World.build(seed, 5, DEMO_ALPHA, DEMO_NOISE)


def honest_round(world: World, theta: Params, train_seed: int) -> list[Submission]:
    return [
        Submission(c.name, c.train(theta, 1000 * train_seed + i), c.n)
        for i, c in enumerate(world.clients)
    ]


def near_zero(seeds: Iterable[int]) -> dict[str, Any]:
    """The demo's free-rider returning θ + noise (claiming its own shard's count)."""
    by_level: dict[float, list[float]] = {lv: [] for lv in NEAR_ZERO_LEVELS}
    for seed in seeds:
        world = demo_world(seed)
        theta = world.warm_model()
        rider = world.clients[-1]
        for ts in TRAIN_SEEDS:
            others = honest_round(World(seed, world.validation, world.clients[:-1]), theta, ts)
            for level in NEAR_ZERO_LEVELS:
                z = noise_like(theta, level * norm_of(theta), seed=7919 * seed + 31 * ts + 1)
                task = Task.create(world.validation)
                res = task.run(theta, [*others, Submission("zero", z, rider.n)], seed=seed)
                by_level[level].append(res.share("zero"))
    return {
        "share": mean(v for vs in by_level.values() for v in vs),
        "by_level": {f"{lv:g}": mean(vs) for lv, vs in by_level.items()},
        "max": max(v for vs in by_level.values() for v in vs),
    }


QUIT_AFTER = 3  # honest rounds before the quitter sends near-null updates


def quitter(seeds: Iterable[int]) -> dict[str, Any]:
    """A participant with a history that stops contributing: the demo's best-paid honest data
    owner sends θ + noise (1e-4 × ‖θ‖) from round ``QUIT_AFTER + 1`` on. Its share of each later
    round (next to its last honest one) is what its past standing still earns it (no target;
    ``evidence_decay`` sets it)."""
    shares: dict[int, list[float]] = {r: [] for r in range(QUIT_AFTER, ROUNDS + 1)}
    for seed in seeds:
        world = demo_world(seed)
        task = Task.create(world.validation)
        theta = initial_params(MODEL, seed)
        quitter_name = ""
        for r in range(1, ROUNDS + 1):
            subs = honest_round(world, theta, r)
            if r > QUIT_AFTER:
                z = noise_like(theta, 1e-4 * norm_of(theta), seed=31 * seed + r)
                subs = [Submission(s.name, z, s.num_samples) if s.name == quitter_name else s
                        for s in subs]  # fmt: skip
            res = task.run(theta, subs, seed=seed)
            if r == QUIT_AFTER:
                quitter_name = max(res.payouts, key=lambda n: res.payouts[n])
            if r >= QUIT_AFTER:
                shares[r].append(res.share(quitter_name))
            theta = res.theta
    return {f"round_{r}_share": mean(v) for r, v in shares.items()}


#: How a Sybil's identities train their parts: as the task spec says (the same epochs, hence
#: fewer steps on less data), or with as many optimiser steps as the whole data set gets.
SYBIL_STRATEGIES: dict[str, Callable[[int], int]] = {
    "spec_epochs": lambda k: TRAINING.epochs,
    "same_steps": lambda k: TRAINING.epochs * k,
}


def sybil(seeds: Iterable[int]) -> dict[str, Any]:
    """One client's data split evenly over k identities; the other updates are unchanged.

    The headline per k is the larger mean gain of the two training strategies: splitting must
    not pay whichever way the identities train.
    """
    gains: dict[str, dict[int, list[float]]] = {
        name: {k: [] for k in SYBIL_KS} for name in SYBIL_STRATEGIES
    }
    for seed in seeds:
        world = demo_world(seed)
        theta = world.warm_model()
        for target in (0, 1):
            victim = world.clients[target]
            for ts in TRAIN_SEEDS:
                others = [s for s in honest_round(world, theta, ts) if s.name != victim.name]
                alone = Submission(victim.name, victim.train(theta, 1000 * ts + 77), victim.n)
                base = Task.create(world.validation).run(theta, [alone, *others], seed=seed)
                for k in SYBIL_KS:
                    parts = victim.split(k, seed=seed * 100 + k)
                    for name, epochs in SYBIL_STRATEGIES.items():
                        ids = [
                            Submission(p.name, p.train(theta, 1000 * ts + 77 + j, epochs(k)), p.n)
                            for j, p in enumerate(parts)
                        ]
                        task = Task.create(world.validation)
                        split = task.run(theta, [*ids, *others], seed=seed)
                        gain = split.share(*(p.name for p in parts)) - base.share(victim.name)
                        gains[name][k].append(100.0 * gain)
    by_strategy = {
        name: {str(k): mean(v) for k, v in per_k.items()} for name, per_k in gains.items()
    }
    return {
        "points": {str(k): max(s[str(k)] for s in by_strategy.values()) for k in SYBIL_KS},
        "by_strategy": by_strategy,
        "positive_cases": {
            name: {str(k): int(sum(g > 0 for g in v)) for k, v in per_k.items()}
            for name, per_k in gains.items()
        },
        "cases_per_k": len(gains["spec_epochs"][SYBIL_KS[0]]),
    }


def copies(seeds: Iterable[int]) -> dict[str, Any]:
    """A copier of the best-paid honest update: near copies and an exact copy, committed later."""
    copier_shares: list[float] = []
    ratios: list[float] = []
    exact_ratios: list[float] = []
    by_level: dict[float, list[float]] = {lv: [] for lv in (*COPY_LEVELS, *EVASION_LEVELS)}
    honest_cosines: list[float] = []
    for seed in seeds:
        world = demo_world(seed)
        theta = world.warm_model()
        for ts in TRAIN_SEEDS:
            honest = honest_round(world, theta, ts)
            honest_cosines.append(max_cosine([s.update for s in honest]))  # type: ignore[misc]
            base = Task.create(world.validation).run(theta, honest, seed=seed)
            best = max(base.payouts, key=lambda n: base.payouts[n])
            original = next(s for s in honest if s.name == best)
            assert isinstance(original.update, dict)
            without = base.payouts[best]
            for level in (*COPY_LEVELS, *EVASION_LEVELS):
                eps = noise_like(original.update, level * norm_of(original.update), seed + 17)
                copy = Submission("copier", plus(original.update, eps), original.num_samples)
                res = Task.create(world.validation).run(theta, [*honest, copy], seed=seed)
                by_level[level].append(res.share("copier"))
                if level in COPY_LEVELS:
                    copier_shares.append(res.share("copier"))
                    ratios.append(res.payouts[best] / without)
            exact = Submission("copier", encode_weights(original.update), original.num_samples)
            res = Task.create(world.validation).run(theta, [*honest, exact], seed=seed)
            exact_ratios.append(res.payouts[best] / without)
    return {
        "copier_share": mean(copier_shares),
        "copier_share_by_level": {f"{lv:g}": mean(v) for lv, v in by_level.items()},
        "original_pay_ratio": mean(ratios),
        "original_pay_ratio_min": min(ratios),
        "exact_copy_earlier_ratio": mean(exact_ratios),
        "honest_max_cosine": max(honest_cosines),
    }


def max_cosine(updates: Sequence[Params]) -> float:
    """The largest cosine similarity between two of ``updates`` (flattened)."""
    rows = np.stack(
        [np.concatenate([np.ravel(u[k]) for k in sorted(u)]).astype(np.float64) for u in updates]
    )
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    sims = rows @ rows.T
    np.fill_diagonal(sims, -1.0)
    return float(sims.max())


def ladder_run(
    world: World, *, rounds: int = ROUNDS, seed_of: Callable[[int, int], int] | None = None
) -> list[RoundResult]:
    """``rounds`` rounds of every client from the initial model; the state carries over."""
    seed_of = seed_of or (lambda r, i: 100 * r + i)
    task = Task.create(world.validation)
    theta = initial_params(MODEL, world.seed)
    results = []
    for r in range(rounds):
        subs = [
            Submission(c.name, c.train(theta, seed_of(r, i)), c.n)
            for i, c in enumerate(world.clients)
        ]
        res = task.run(theta, subs, seed=world.seed)
        results.append(res)
        theta = res.theta
    return results


def cumulative(results: Sequence[RoundResult]) -> dict[str, int]:
    total: dict[str, int] = {}
    for res in results:
        for name, amount in res.payouts.items():
            total[name] = total.get(name, 0) + amount
    return total


def ladder(seeds: Sequence[int]) -> dict[str, Any]:
    """Spearman(cumulative pay, label quality), per-round Pearson, and seed drift."""
    noise = np.linspace(0.0, 0.5, 10)
    spearman: dict[str, list[float]] = {f"{a:g}": [] for a in ALPHAS}
    longer: dict[str, list[float]] = {f"{a:g}": [] for a in ALPHAS}
    unbalanced: dict[str, list[float]] = {f"{a:g}": [] for a in ALPHAS}
    pearson_min: list[float] = []
    pearson_round_min: list[float] = []
    drift: list[float] = []
    round_drift: list[float] = []
    cosines: dict[str, float] = {}
    wrongly_rejected = 0
    for seed in seeds:
        for alpha in ALPHAS:
            for equal, sink in ((True, spearman), (False, unbalanced)):
                world = World.build(seed, 10, alpha, noise, equal=equal)
                names = [c.name for c in world.clients]
                quality = [-c.noise for c in world.clients]
                # the equal-size worlds run on to LONGER_ROUNDS; their first ROUNDS rounds are
                # the same run's (rounds are deterministic), so the headline is unchanged
                run = ladder_run(world, rounds=LONGER_ROUNDS if equal else ROUNDS)
                results = run[:ROUNDS]
                pay = cumulative(results)
                if equal:
                    whole = cumulative(run)
                    rho = spearmanr([float(whole[n]) for n in names], quality)
                    longer[f"{alpha:g}"].append(float(rho.statistic))
                top = max(max_cosine(list(r.outcome.accepted_updates.values())) for r in results)
                cosines[f"{alpha:g}"] = max(cosines.get(f"{alpha:g}", -1.0), top)
                wrongly_rejected += sum(
                    1 for r in results for s in r.outcome.report.submissions if s.reason
                )
                rho = spearmanr([float(pay[n]) for n in names], quality)
                sink[f"{alpha:g}"].append(float(rho.statistic))
                if not (equal and alpha == 1.0):
                    continue
                pearson_min.append(min(_pearson(r, r.pay_basis) for r in results))
                pearson_round_min.append(min(_pearson(r, r.values) for r in results))
                for j in DRIFT_CLIENTS:
                    other = ladder_run(
                        world, seed_of=lambda r, i, j=j: 100 * r + i + (7777 if i == j else 0)
                    )
                    changed = cumulative(other)
                    l1 = sum(abs(pay[n] - changed[n]) for n in names)
                    drift.append(l1 / (ROUNDS * BUDGET))
                    round_drift.append(
                        mean(
                            sum(abs(a.payouts[n] - b.payouts[n]) for n in names) / BUDGET
                            for a, b in zip(results, other, strict=True)
                        )
                    )
    return {
        "spearman": {a: mean(v) for a, v in spearman.items()},
        "spearman_by_seed": spearman,
        f"spearman_{LONGER_ROUNDS}_rounds": {a: mean(v) for a, v in longer.items()},
        f"spearman_{LONGER_ROUNDS}_rounds_by_seed": longer,
        "spearman_unbalanced": {a: mean(v) for a, v in unbalanced.items()},
        "pearson_min": mean(pearson_min),
        "pearson_min_by_seed": pearson_min,
        "pearson_round_values_min": mean(pearson_round_min),
        "seed_drift_l1": mean(drift),
        "seed_drift_by_case": drift,
        "seed_drift_per_round_l1": mean(round_drift),
        "honest_max_cosine_by_alpha": cosines,
        "honest_updates_rejected": wrongly_rejected,
    }


def _pearson(res: RoundResult, basis: Mapping[str, float]) -> float:
    names = sorted(basis)
    return pearson([basis[n] for n in names], [float(res.payouts[n]) for n in names])


def n100(seed: int) -> dict[str, Any]:
    """One 100-participant round, timed; its values against a stratified reference."""
    from valuation.build import model_utility
    from valuation.config import RoundValuation
    from valuation.utility import CachedUtility

    stratified_shapley = _valuation_bench().stratified_shapley
    world = World.build(seed, 100, 1.0, min_size=5)
    theta = world.warm_model()
    subs = honest_round(world, theta, 0)
    task = Task.create(world.validation)
    start = time.perf_counter()
    res = task.run(theta, subs, seed=seed)
    seconds = time.perf_counter() - start
    record = res.outcome.report.valuation or {}
    config = RoundValuation.from_dict(record["config"])
    order = {address(s.name): s for s in subs}
    players = record["participants"]
    updates = [order[a].update for a in players]
    utility = model_utility(
        MODEL,
        theta,
        updates,  # type: ignore[arg-type]
        record["num_samples"],
        (world.validation.X, world.validation.y),
        config,
        **reference_game_options(record),
    )
    cached = CachedUtility(utility)
    start = time.perf_counter()
    reference, halves = stratified_shapley(cached, REFERENCE_SAMPLES_PER_SIZE, seed=2024)
    ref_seconds = time.perf_counter() - start
    values = np.asarray(record["result"]["values"], dtype=np.float64)
    return {
        "seconds": seconds,
        "rel_l2": rel_l2(values, reference),
        "method": record["result"]["method"],
        "evaluations": record["result"]["evaluations"],
        "reference_evaluations": cached.evaluations,
        "reference_seconds": ref_seconds,
        "reference_self_rel_l2": rel_l2(halves[0], halves[1]),
    }


REFERENCE_SAMPLES_PER_SIZE = 8


def _valuation_bench() -> Any:
    """bench/valuation.py (its file name shadows the package, so it is loaded by path)."""
    import importlib.util

    path = Path(__file__).resolve().parent / "valuation.py"
    spec = importlib.util.spec_from_file_location("bench_valuation", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_valuation"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def reference_game_options(record: Mapping[str, Any]) -> dict[str, Any]:
    """The aggregation weights the report's game was built with (newer reports record them)."""
    return {"coefficients": record.get("coefficients"), "normalizers": record.get("normalizers")}


def rel_l2(estimate: np.ndarray, reference: np.ndarray) -> float:
    return float(np.linalg.norm(estimate - reference) / np.linalg.norm(reference))


def mean(values: Iterable[float]) -> float:
    vals = list(values)
    return float(np.mean(vals)) if vals else float("nan")


# -- driver --------------------------------------------------------------------------------

FIGURES: dict[str, Callable[[Sequence[int]], dict[str, Any]]] = {
    "near_zero": near_zero,
    "quitter": quitter,
    "sybil": sybil,
    "copies": copies,
    "ladder": ladder,
    "n100": lambda seeds: n100(seeds[0]),
}


def run(seeds: Sequence[int], only: Sequence[str]) -> dict[str, Any]:
    details: dict[str, Any] = {}
    timings: dict[str, float] = {}
    for name, fn in FIGURES.items():
        if only and name not in only:
            continue
        start = time.perf_counter()
        details[name] = fn(seeds)
        timings[name] = round(time.perf_counter() - start, 1)
        print(f"[fidelity] {name}: {timings[name]} s", file=sys.stderr)
    out: dict[str, Any] = {"seeds": len(seeds), "policy": POLICY.to_dict()}
    if "near_zero" in details:
        out["near_zero_share"] = details["near_zero"]["share"]
    if "sybil" in details:
        out["sybil_gain_points"] = details["sybil"]["points"]
    if "copies" in details:
        c = details["copies"]
        out["copier_share"] = c["copier_share"]
        out["original_pay_ratio"] = c["original_pay_ratio"]
        out["exact_copy_earlier_ratio"] = c["exact_copy_earlier_ratio"]
    if "ladder" in details:
        lad = details["ladder"]
        out["spearman"] = lad["spearman"]
        out["seed_drift_l1"] = lad["seed_drift_l1"]
        out["pearson_min"] = lad["pearson_min"]
    if "n100" in details:
        out["n100_seconds"] = details["n100"]["seconds"]
        out["n100_rel_l2"] = details["n100"]["rel_l2"]
    out["targets"] = {k: f"{op} {v:g}" for k, (op, v) in TARGETS.items()}
    out["met"] = {k: met for k, met in checks(out).items()}
    out["details"] = {**details, "bench_seconds": timings}
    return out


def lookup(figures: Mapping[str, Any], path: str) -> Any:
    head, _, rest = path.partition(".")
    value = figures.get(head)
    if rest and isinstance(value, Mapping):
        return value.get(rest)
    return value


def checks(figures: Mapping[str, Any]) -> dict[str, bool]:
    out = {}
    for key, (op, target) in TARGETS.items():
        value = lookup(figures, key)
        if isinstance(value, int | float):
            out[key] = bool(value <= target if op == "<=" else value >= target)
    return out


def table(figures: Mapping[str, Any]) -> str:
    lines = [f"{'figure':<28} {'value':>10}  target     met", "-" * 52]
    for key, (op, target) in TARGETS.items():
        value = lookup(figures, key)
        if value is None:
            continue
        met = figures["met"].get(key)
        lines.append(f"{key:<28} {value:>10.4f}  {op} {target:<7g} {'yes' if met else 'NO'}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seeds", type=int, default=3, help="world seeds to average (>= 3)")
    parser.add_argument("--only", nargs="*", default=[], choices=sorted(FIGURES))
    parser.add_argument(
        "--valuation",
        default="{}",
        help="JSON fields overriding the default valuation policy (for ablations)",
    )
    args = parser.parse_args()
    global POLICY
    POLICY = ValuationConfig.from_dict({**POLICY.to_dict(), **json.loads(args.valuation)})
    import torch

    torch.set_num_threads(2)
    figures = run(list(range(1, args.seeds + 1)), args.only)
    if args.json:
        print(json.dumps(figures, sort_keys=True))
    else:
        print(table(figures))


if __name__ == "__main__":
    main()
