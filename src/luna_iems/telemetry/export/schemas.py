"""Request and response bodies of `/learn` (the DP export, the public key, priors)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from luna_iems.bounds import BoundedTimestamp


class ExportCreate(BaseModel):
    """`POST /learn/export`: the period [from, to) whose events and rewards are aggregated."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    ts_from: BoundedTimestamp = Field(alias="from", description="Start (inclusive), ISO 8601 with offset")
    ts_to: BoundedTimestamp = Field(alias="to", description="End (exclusive), ISO 8601 with offset")
    send: StrictBool = Field(default=False, description="Also POST the file to LEARN_EXPORT_URL")
    include_bandit: StrictBool = Field(
        default=True,
        description="Publish the (noisy) bandit statistics: charges the 'bandit' ledger too",
    )


class BudgetLedgerRead(BaseModel):
    ledger: str = Field(description="A calendar month (YYYY-MM, UTC) or 'bandit'")
    epsilon_spent: float
    epsilon_remaining: float


class ExportRead(BaseModel):
    file: str = Field(description="Path of the signed export file on this host")
    file_sha256: str
    digest_sha256: str = Field(description="SHA-256 of the canonical signed payload")
    period_from: datetime
    period_to: datetime
    epsilon: float
    ledgers: list[BudgetLedgerRead] = Field(description="The ledgers this export charged, after it")
    sent: bool
    key_fingerprint: str


class PublicKeyRead(BaseModel):
    algorithm: str = "Ed25519"
    public_key: str = Field(description="Raw 32-byte public key, base64")
    fingerprint: str = Field(description="SHA-256 (hex) of the raw public key")


class BudgetRead(BaseModel):
    epsilon_per_export: float
    epsilon_budget: float = Field(description="Per ledger (calendar month, and the bandit statistics)")
    ledgers: list[BudgetLedgerRead]


# A signed export file as uploaded: checked by signature, not by a pydantic model (the signed bytes
# are the canonical form of exactly what was sent, unknown keys included).
PriorsUpload = dict[str, Any]


class PriorsImportRead(BaseModel):
    imported: bool = Field(description="False: this export was imported before (nothing changed)")
    digest_sha256: str
    key_fingerprint: str
    period_from: datetime
    period_to: datetime
    weight: float
    arms: list[str]
