"""The DP export of aggregates and the import of priors (docs/learning.md, "What leaves the site",
"The DP guarantee", "Verifying a file").

`export`: while the privacy flag is on, aggregates of a period's events and rewards and the bandit
statistics, with Laplace noise (OpenDP) at LEARN_EPSILON, charged to a per-month ε ledger (and a
"bandit" ledger), signed with Ed25519, written to LEARN_EXPORT_DIR, optionally POSTed to
LEARN_EXPORT_URL. `import_priors`: a verified, trusted export's bandit block added to the local bandit.
Both write an audit row.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from luna_iems.admin import service as admin_service
from luna_iems.errors import BackendUnavailableError, ConflictError, InvalidInputError, LunaError
from luna_iems.ops.logs import request_id_var
from luna_iems.settings import Settings
from luna_iems.telemetry.export import noise, repository, signing
from luna_iems.telemetry.export.models import LearnPriorImport
from luna_iems.telemetry.export.schemas import (
    BudgetLedgerRead,
    BudgetRead,
    ExportCreate,
    ExportRead,
    PriorsImportRead,
    PublicKeyRead,
)
from luna_iems.telemetry.models import EVENT_TYPES, ITEM_KINDS
from luna_iems.telemetry.recommend import arms as arm_catalog
from luna_iems.telemetry.recommend import service as recommend_service
from luna_iems.telemetry.recommend.bandits import BanditSnapshot

SCHEMA_VERSION = 1
BANDIT_LEDGER = "bandit"
MAX_PERIOD = timedelta(days=366)
FINGERPRINT_SALT = b"luna-iems/learn-export/v1\x00"
# How ε is split between the parts of one export (sequential composition: the parts add up to ε).
METRIC_PARTS = ("events", "dwell", "rewards")


class ExportSendError(LunaError):
    """The signed file was written but LEARN_EXPORT_URL did not accept it."""

    status_code = 502
    code = "bad_gateway"


@dataclass(frozen=True)
class Actor:
    """Who asked (for the audit row): an API key, or the command line (`key_id` None)."""

    key_id: uuid.UUID | None
    role: str | None


# --- keys -----------------------------------------------------------------------------------------------
def public_key(*, settings: Settings) -> PublicKeyRead:
    """This instance's signing key (generated at first use), public half: base64 and fingerprint."""
    key = signing.public_key_b64(_signing_key(settings).public_key())
    return PublicKeyRead(public_key=key, fingerprint=signing.fingerprint(key))


def _signing_key(settings: Settings) -> Ed25519PrivateKey:
    try:
        return signing.load_or_create_key(settings.data_dir)
    except (OSError, ValueError) as exc:
        raise BackendUnavailableError(
            "learn_signing_key", f"the signing key {signing.key_path(settings.data_dir)} is unusable: {exc}"
        ) from None


def _trusted(settings: Settings) -> set[str]:
    return {part.strip() for part in settings.learn_trusted_keys.split(",") if part.strip()}


# --- budget ---------------------------------------------------------------------------------------------
def months(ts_from: datetime, ts_to: datetime) -> list[str]:
    """The calendar months (UTC, "YYYY-MM") that [ts_from, ts_to) touches."""
    start, end = ts_from.astimezone(UTC), ts_to.astimezone(UTC) - timedelta(microseconds=1)
    out: list[str] = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _ledger_reads(session: Session, settings: Settings, ledgers: list[str] | None) -> list[BudgetLedgerRead]:
    budget = settings.learn_epsilon_budget
    return [
        BudgetLedgerRead(
            ledger=row.ledger,
            epsilon_spent=round(row.epsilon_spent, 9),
            epsilon_remaining=round(max(budget - row.epsilon_spent, 0.0), 9),
        )
        for row in repository.list_ledgers(session=session, ledgers=ledgers)
    ]


def budget(*, session: Session, settings: Settings) -> BudgetRead:
    """ε spent and remaining on every ledger that has been charged."""
    return BudgetRead(
        epsilon_per_export=settings.learn_epsilon,
        epsilon_budget=settings.learn_epsilon_budget,
        ledgers=_ledger_reads(session, settings, None),
    )


def _charge(session: Session, settings: Settings, charges: dict[str, float]) -> None:
    """Charges every ledger or none: ConflictError (409) naming the first ledger that has too little
    left, with its spent and remaining ε. Not committed here (the export commits once its file exists)."""
    repository.ensure_ledgers(session=session, ledgers=list(charges))
    budget_eps = settings.learn_epsilon_budget
    for ledger in sorted(charges):
        if not repository.charge(session=session, ledger=ledger, epsilon=charges[ledger], budget=budget_eps):
            session.rollback()
            rows = repository.list_ledgers(session=session, ledgers=[ledger])
            spent = rows[0].epsilon_spent if rows else 0.0
            remaining = max(budget_eps - spent, 0.0)
            raise ConflictError(
                f"privacy budget of {ledger} spent: {spent:g} of {budget_eps:g} used, {remaining:g} left, "
                f"this export needs {charges[ledger]:g} (LEARN_EPSILON_BUDGET per ledger; "
                + (
                    "export without the bandit: include_bandit false)"
                    if ledger == BANDIT_LEDGER
                    else "choose a period in another month)"
                ),
                details={
                    "ledger": ledger,
                    "epsilon_spent": spent,
                    "epsilon_remaining": remaining,
                    "epsilon_requested": charges[ledger],
                    "epsilon_budget": budget_eps,
                },
            )


# --- aggregates -----------------------------------------------------------------------------------------
def _metrics(session: Session, ts_from: datetime, ts_to: datetime, epsilon_part: float) -> dict[str, Any]:
    """Noisy event counts per (item kind, type), dwell per item kind, rewards per arm; CTR and means
    are computed from the noisy values (post-processing spends no ε)."""
    counts: Counter[tuple[str, str]] = Counter()
    dwell_s: defaultdict[str, float] = defaultdict(float)
    per_user: Counter[str] = Counter()
    for type_, kind, user_hash, duration_ms in repository.iter_events(
        session=session, ts_from=ts_from, ts_to=ts_to
    ):
        if type_ not in EVENT_TYPES or kind not in ITEM_KINDS:
            continue
        if user_hash is not None:
            per_user[user_hash] += 1
            if per_user[user_hash] > noise.MAX_EVENTS_PER_USER:
                continue
        counts[(kind, type_)] += 1
        if type_ == "dwell" and duration_ms is not None:
            dwell_s[kind] += min(max(duration_ms, 0) / 1000.0, noise.DWELL_CAP_S)
    arm_ids = list(arm_catalog.ARM_IDS)
    reward_n: Counter[str] = Counter()
    reward_sum: defaultdict[str, float] = defaultdict(float)
    for arm, reward in repository.iter_rewards(session=session, ts_from=ts_from, ts_to=ts_to):
        if arm in arm_ids and math.isfinite(reward):
            reward_n[arm] += 1
            reward_sum[arm] += min(max(reward, -noise.REWARD_BOUND), noise.REWARD_BOUND)

    cells = [(kind, type_) for kind in ITEM_KINDS for type_ in EVENT_TYPES]
    noisy_counts = noise.laplace(
        [float(counts[c]) for c in cells], sensitivity=noise.HISTOGRAM_SENSITIVITY, epsilon=epsilon_part
    )
    noisy_dwell = noise.laplace(
        [dwell_s[k] for k in ITEM_KINDS], sensitivity=noise.DWELL_SUM_SENSITIVITY, epsilon=epsilon_part
    )
    noisy_rewards = noise.laplace(
        [float(reward_n[a]) for a in arm_ids] + [reward_sum[a] for a in arm_ids],
        sensitivity=noise.REWARDS_SENSITIVITY,
        epsilon=epsilon_part,
    )
    count_of = {c: max(round(v), 0) for c, v in zip(cells, noisy_counts, strict=True)}
    events = {kind: {t: count_of[(kind, t)] for t in EVENT_TYPES} for kind in ITEM_KINDS}
    ctr = {
        kind: (round(events[kind]["click"] / events[kind]["view"], 4) if events[kind]["view"] > 0 else None)
        for kind in ITEM_KINDS
    }
    dwell = {}
    for kind, total in zip(ITEM_KINDS, noisy_dwell, strict=True):
        n = events[kind]["dwell"]
        total_s = round(max(total, 0.0), 1)
        dwell[kind] = {"count": n, "sum_s": total_s, "mean_s": round(total_s / n, 1) if n > 0 else None}
    rewards = {}
    for i, arm in enumerate(arm_ids):
        n = max(round(noisy_rewards[i]), 0)
        total = round(noisy_rewards[len(arm_ids) + i], 3)
        rewards[arm] = {"count": n, "sum": total, "mean": round(total / n, 4) if n > 0 else None}
    return {
        "events": events,
        "ctr": ctr,
        "dwell": dwell,
        "rewards": rewards,
        "noise": {
            "mechanism": "laplace",
            "library": "opendp",
            "unit": "one event or one rewarded recommendation",
            "epsilon_per_part": epsilon_part,
            "parts": {
                "events": _part(noise.HISTOGRAM_SENSITIVITY, epsilon_part),
                "dwell": _part(noise.DWELL_SUM_SENSITIVITY, epsilon_part),
                "rewards": _part(noise.REWARDS_SENSITIVITY, epsilon_part),
            },
            "max_events_per_user": noise.MAX_EVENTS_PER_USER,
            "dwell_cap_s": noise.DWELL_CAP_S,
            "reward_bound": noise.REWARD_BOUND,
        },
    }


def _part(sensitivity: float, epsilon: float) -> dict[str, float]:
    scale = noise.laplace_scale(sensitivity=sensitivity, epsilon=epsilon)
    return {"sensitivity": sensitivity, "scale": scale}


def _bandit(session: Session, epsilon: float) -> dict[str, Any]:
    """The bandit statistics with noise on the upper triangle of A - I, b, n and the reward sum of each
    arm (one round credits one arm: parallel composition, ε for all arms). A is then projected back
    to symmetric with eigenvalues >= 1 (it is I plus a sum of x xᵀ) and θ = A⁻¹b recomputed."""
    state = recommend_service.bandit_state(session)
    d = len(state.features)
    upper = np.triu_indices(d)
    identity = np.eye(d)
    out_a: dict[str, list[list[float]]] = {}
    out_b: dict[str, list[float]] = {}
    out_theta: dict[str, list[float]] = {}
    out_n: dict[str, int] = {}
    out_sum: dict[str, float] = {}
    for arm in state.arms:
        a = np.asarray(state.A[arm], dtype=np.float64) - identity
        values = [*a[upper].tolist(), *state.b[arm], float(state.n[arm]), float(state.reward_sum[arm])]
        noisy = noise.laplace(values, sensitivity=noise.BANDIT_SENSITIVITY, epsilon=epsilon)
        m = len(upper[0])
        tri = np.zeros((d, d))
        tri[upper] = noisy[:m]
        sym = tri + np.triu(tri, 1).T
        eigenvalues, vectors = np.linalg.eigh(sym)
        a_noisy = identity + (vectors * np.maximum(eigenvalues, 0.0)) @ vectors.T
        a_noisy = (a_noisy + a_noisy.T) / 2.0
        b_noisy = np.asarray(noisy[m : m + d])
        out_a[arm] = np.round(a_noisy, 6).tolist()
        out_b[arm] = np.round(b_noisy, 6).tolist()
        out_theta[arm] = np.round(np.linalg.solve(a_noisy, b_noisy), 6).tolist()
        out_n[arm] = max(round(noisy[m + d]), 0)
        out_sum[arm] = round(noisy[m + d + 1], 3)
    return {
        "policy": state.policy,
        "features": list(state.features),
        "arms": list(state.arms),
        "A": out_a,
        "b": out_b,
        "theta": out_theta,
        "n": out_n,
        "reward_sum": out_sum,
        "noise": {
            "mechanism": "laplace",
            "library": "opendp",
            "unit": "one bandit round (context, reward), all rounds ever",
            "epsilon": epsilon,
            **_part(noise.BANDIT_SENSITIVITY, epsilon),
            "context_l1_bound": noise.CONTEXT_L1_BOUND,
            "context_l2_sq_bound": noise.CONTEXT_L2_SQ_BOUND,
        },
    }


def _instance_fingerprint(session: Session) -> str:
    raw = admin_service.get_privacy(session=session).instance_fingerprint
    return hashlib.sha256(FINGERPRINT_SALT + raw.encode("utf-8")).hexdigest()


# --- export ---------------------------------------------------------------------------------------------
def _check_period(ts_from: datetime, ts_to: datetime) -> None:
    if ts_to <= ts_from:
        raise InvalidInputError(
            f"to: must be after from ({ts_from.isoformat()}), got {ts_to.isoformat()}",
            details={"field": "to"},
        )
    if ts_to - ts_from > MAX_PERIOD:
        raise InvalidInputError(
            f"to: the period may span at most {MAX_PERIOD.days} days", details={"field": "to", "limit": 366}
        )


def _write_atomic(directory: Path, name: str, content: bytes) -> Path:
    """Writes `content` to directory/name via a temporary file and a rename: a reader never sees half
    a file, and a failed write leaves nothing."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        target = directory / name
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _send(settings: Settings, content: bytes) -> None:
    url = (settings.learn_export_url or "").strip()
    if not url:
        raise ExportSendError(
            "send: LEARN_EXPORT_URL is not set; the file was written, send it later by hand",
            details={"setting": "LEARN_EXPORT_URL"},
        )
    headers = {"Content-Type": "application/json"}
    token = settings.learn_export_token.get_secret_value() if settings.learn_export_token else ""
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = httpx.post(url, content=content, headers=headers, timeout=settings.http_timeout_s)
    except httpx.HTTPError as exc:
        raise ExportSendError(
            f"send: {admin_service.redact_url(url)} did not answer ({type(exc).__name__}); "
            "the file was written and the ε is spent: send the file again, no new export needed",
            details={"url": admin_service.redact_url(url)},
        ) from None
    if response.status_code >= 300:
        raise ExportSendError(
            f"send: {admin_service.redact_url(url)} answered HTTP {response.status_code}; the file was "
            "written and the ε is spent: send the file again, no new export needed",
            details={"url": admin_service.redact_url(url), "status": response.status_code},
        )


def _audit(session: Session, actor: Actor, method: str, text: str, status: int) -> None:
    admin_service.record_audit(
        session=session,
        key_id=actor.key_id,
        role=actor.role,
        method=method,
        path=text,
        status=status,
        request_id=request_id_var.get() or "cli",
    )


def export(*, session: Session, settings: Settings, export_in: ExportCreate, actor: Actor) -> ExportRead:
    """Writes a signed, noisy export of [from, to) to LEARN_EXPORT_DIR (and POSTs it when `send`).

    Raises ConflictError (409) while the privacy flag is off or when a ledger's ε would exceed
    LEARN_EPSILON_BUDGET; InvalidInputError (422) for an empty or over-long period; ExportSendError
    (502) when the send fails — the file is then written and the ε spent (the noisy data exists and
    may have reached the receiver). Any failure before the file exists spends nothing and leaves
    nothing: the ledger charge is committed only after the file is in place."""
    privacy = admin_service.get_privacy(session=session)
    if not privacy.flag_send_aggregates:
        raise ConflictError(
            "the privacy flag is off: nothing leaves this site until an admin turns on "
            "flag_send_aggregates (PUT /admin/privacy)",
            details={"setting": "flag_send_aggregates", "value": False},
        )
    ts_from, ts_to = export_in.ts_from.astimezone(UTC), export_in.ts_to.astimezone(UTC)
    _check_period(ts_from, ts_to)
    epsilon = settings.learn_epsilon
    # Half of ε to the bandit statistics when they are included, the rest split over the metrics.
    epsilon_bandit = epsilon / 2.0 if export_in.include_bandit else 0.0
    epsilon_metrics = epsilon - epsilon_bandit
    charges = dict.fromkeys(months(ts_from, ts_to), epsilon_metrics)
    if export_in.include_bandit:
        charges[BANDIT_LEDGER] = epsilon_bandit
    key = _signing_key(settings)  # before any charge: a key problem spends nothing
    try:
        _charge(session, settings, charges)
        payload = {
            "schema": SCHEMA_VERSION,
            "instance_fingerprint": _instance_fingerprint(session),
            "period": {"from": ts_from.isoformat(), "to": ts_to.isoformat()},
            "metrics": _metrics(session, ts_from, ts_to, epsilon_metrics / len(METRIC_PARTS)),
            "bandit": _bandit(session, epsilon_bandit) if export_in.include_bandit else None,
        }
        document = signing.sign(payload, key)
        digest = hashlib.sha256(signing.canonical_bytes(payload)).hexdigest()
        content = json.dumps(document, sort_keys=True, indent=2, allow_nan=False).encode("utf-8") + b"\n"
        name = f"luna-export-{ts_from:%Y%m%dT%H%M%SZ}-{ts_to:%Y%m%dT%H%M%SZ}-{digest[:12]}.json"
        try:
            path = _write_atomic(settings.resolved_learn_export_dir, name, content)
        except OSError as exc:
            raise BackendUnavailableError(
                "learn_export_dir",
                f"cannot write the export into {settings.resolved_learn_export_dir} (LEARN_EXPORT_DIR): "
                f"{exc.strerror or exc}; nothing was spent",
            ) from None
        try:
            session.commit()
        except BaseException:
            path.unlink(missing_ok=True)  # the charge is not stored: the noisy data must not stay either
            raise
    except BaseException:
        session.rollback()
        raise
    ledgers = _ledger_reads(session, settings, sorted(charges))
    summary = (
        f"learn export {ts_from.isoformat()}..{ts_to.isoformat()} epsilon={epsilon:g} "
        f"bandit={export_in.include_bandit} file={name} sha256={digest}"
    )
    sent = False
    if export_in.send:
        try:
            _send(settings, content)
        except ExportSendError:
            _audit(session, actor, "EXPORT", f"{summary} send=failed", 502)
            raise
        sent = True
    _audit(session, actor, "EXPORT", f"{summary} send={'ok' if sent else 'no'}", 200)
    return ExportRead(
        file=str(path),
        file_sha256=hashlib.sha256(content).hexdigest(),
        digest_sha256=digest,
        period_from=ts_from,
        period_to=ts_to,
        epsilon=epsilon,
        ledgers=ledgers,
        sent=sent,
        key_fingerprint=signing.fingerprint(document["public_key"]),
    )


# --- priors ---------------------------------------------------------------------------------------------
def _period(payload: dict[str, Any]) -> tuple[datetime, datetime]:
    period = payload.get("period")
    bounds: list[datetime] = []
    for name in ("from", "to"):
        text = period.get(name) if isinstance(period, dict) else None
        try:
            value = datetime.fromisoformat(text) if isinstance(text, str) else None
        except ValueError:
            value = None
        if value is None or value.tzinfo is None:
            raise InvalidInputError(
                f"period.{name}: needs an ISO 8601 timestamp with offset", details={"field": f"period.{name}"}
            )
        bounds.append(value)
    return bounds[0], bounds[1]


def _snapshot(payload: dict[str, Any]) -> BanditSnapshot:
    if payload.get("schema") != SCHEMA_VERSION:
        raise InvalidInputError(
            f"schema: this version reads schema {SCHEMA_VERSION}, the file has {payload.get('schema')!r}",
            details={"field": "schema"},
        )
    bandit = payload.get("bandit")
    if not isinstance(bandit, dict):
        raise InvalidInputError(
            "bandit: the export has no bandit statistics (exported with include_bandit false)",
            details={"field": "bandit"},
        )
    try:
        return BanditSnapshot(
            policy=str(bandit["policy"]),
            features=[str(f) for f in bandit["features"]],
            arms=[str(a) for a in bandit["arms"]],
            A={str(k): v for k, v in dict(bandit["A"]).items()},
            b={str(k): v for k, v in dict(bandit["b"]).items()},
            theta={str(k): v for k, v in dict(bandit.get("theta") or {}).items()},
            n={str(k): int(v) for k, v in dict(bandit["n"]).items()},
            reward_sum={str(k): float(v) for k, v in dict(bandit["reward_sum"]).items()},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"bandit: malformed statistics ({type(exc).__name__}: {exc})", details={"field": "bandit"}
        ) from None


def import_priors(*, session: Session, settings: Settings, document: Any, actor: Actor) -> PriorsImportRead:
    """Adds a signed export's bandit statistics to the local bandit as priors, weighted by
    LEARN_PRIOR_WEIGHT.

    Order: the signature is verified first (422 naming the field when it does not), then the key
    must be this instance's or listed in LEARN_TRUSTED_KEYS (422 naming its fingerprint), then the
    payload is read. An export imported before changes nothing (`imported` false): the digest of its
    canonical payload is stored in the same transaction as the statistics."""
    verified = signing.verify(document)
    own = signing.public_key_b64(_signing_key(settings).public_key())
    trusted = _trusted(settings)
    if verified.public_key != own and not ({verified.public_key, verified.key_fingerprint} & trusted):
        raise InvalidInputError(
            f"public_key: key {verified.key_fingerprint} is not trusted: add it (or its fingerprint) to "
            "LEARN_TRUSTED_KEYS to import exports it signed",
            details={"field": "public_key", "key_fingerprint": verified.key_fingerprint},
        )
    snapshot = _snapshot(verified.payload)
    ts_from, ts_to = _period(verified.payload)
    weight = settings.learn_prior_weight
    row = LearnPriorImport(
        digest_sha256=verified.digest_sha256,
        key_fingerprint=verified.key_fingerprint,
        period_from=ts_from,
        period_to=ts_to,
        weight=weight,
    )
    try:
        imported = repository.add_prior_import(session=session, row=row)
        if imported:
            recommend_service.import_priors(session, snapshot, weight=weight)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    _audit(
        session,
        actor,
        "PRIORS",
        f"learn priors key={verified.key_fingerprint} sha256={verified.digest_sha256} weight={weight:g} "
        f"{'imported' if imported else 'already imported: unchanged'}",
        200,
    )
    return PriorsImportRead(
        imported=imported,
        digest_sha256=verified.digest_sha256,
        key_fingerprint=verified.key_fingerprint,
        period_from=ts_from,
        period_to=ts_to,
        weight=weight,
        arms=list(snapshot.arms),
    )


def verify_file(path: Path) -> signing.Verified:
    """Reads and verifies an export file (`luna learn verify`). Raises InvalidInputError with the
    reason (not JSON, not signed, signature does not verify) and OSError when unreadable."""
    try:
        document = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"{path}: not a JSON file ({exc})") from None
    return signing.verify(document)
