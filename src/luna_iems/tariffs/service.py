"""Tariffs of sites: versions by validity date, and the `pricing.Tariff` list every consumer prices with.

KPIs (`timeseries.kpis`), the optimiser (`decisions.optimize_service`) and what-if
(`decisions.scenario_service`) call `tariffs_for` and then `pricing.step_prices` / `pricing.peak_charge`,
so one site and period cost the same in all three. Without a stored version all three use the
settings' default tariff (`supply_tariff`: spot + IMPORT_MARKUP_EUR_KWH, feed-in EXPORT_TARIFF_EUR_KWH
or spot).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
from sqlalchemy.orm import Session

from luna_iems.db.base import from_epoch_us, to_epoch_us, utcnow
from luna_iems.errors import InvalidInputError, NotFoundError
from luna_iems.settings import Settings
from luna_iems.tariffs import pricing, repository
from luna_iems.tariffs.deps import TariffsDeps
from luna_iems.tariffs.models import TariffVersion
from luna_iems.tariffs.schemas import (
    DynamicImportPrice,
    FixedFeedIn,
    FixedImportPrice,
    PriceStep,
    SpotFeedIn,
    TariffComponents,
    TariffPrices,
    TariffRead,
    TariffVersionCreate,
    TariffVersionRead,
    TouImportPrice,
)

MAX_PRICE_DAYS = 93
_STEP_US = 15 * 60 * 1_000_000


def supply_tariff(
    settings: Settings,
    *,
    import_markup_eur_kwh: float | None = None,
    export_tariff_eur_kwh: float | None = None,
) -> pricing.Tariff:
    """The default tariff (KPIs, optimiser and what-if without a stored version): import = spot +
    markup (IMPORT_MARKUP_EUR_KWH), export = the fixed feed-in (EXPORT_TARIFF_EUR_KWH) or the spot
    price. Explicit values (a request's own markup) win over the settings."""
    markup = settings.import_markup_eur_kwh if import_markup_eur_kwh is None else import_markup_eur_kwh
    feed_in = settings.export_tariff_eur_kwh if export_tariff_eur_kwh is None else export_tariff_eur_kwh
    return pricing.spot_tariff(import_markup_eur_kwh=markup, feed_in_eur_kwh=feed_in)


def _zones(components: TariffComponents) -> list[pricing.Zone]:
    assert isinstance(components.import_price, TouImportPrice)
    return [
        pricing.Zone(
            name=z.name,
            days=tuple(pricing.WEEKDAYS.index(d) for d in z.days),
            from_hour=z.from_hour,
            to_hour=z.to_hour,
            price_eur_kwh=z.price_eur_kwh,
        )
        for z in components.import_price.zones
    ]


def check_components(components: TariffComponents) -> None:
    """Raises InvalidInputError (422, field `import_price.zones`) when time-of-use zones leave an hour
    of the week uncovered or cover one twice, naming each gap and overlap."""
    if not isinstance(components.import_price, TouImportPrice):
        return
    try:
        pricing.tou_grid(_zones(components))
    except pricing.CoverageError as exc:
        raise InvalidInputError(
            f"import_price.zones: every hour of the week must be in exactly one zone: {exc}",
            details={"field": "import_price.zones", "gaps": exc.gaps, "overlaps": exc.overlaps},
        ) from exc


def to_pricing(*, valid_from: date, components: TariffComponents, timezone: str) -> pricing.Tariff:
    """A validated version as `pricing.Tariff`, starting at the site's local midnight of `valid_from`."""
    price, feed_in = components.import_price, components.feed_in
    kind: pricing.ImportKind = "tou"
    if isinstance(price, FixedImportPrice):
        kind = "fixed"
    elif isinstance(price, DynamicImportPrice):
        kind = "dynamic"
    fixed_feed_in = isinstance(feed_in, FixedFeedIn)
    return pricing.Tariff(
        valid_from_us=pricing.local_midnight_us(valid_from, timezone),
        import_kind=kind,
        import_eur_kwh=price.price_eur_kwh if isinstance(price, FixedImportPrice) else 0.0,
        tou_eur_kwh=pricing.tou_grid(_zones(components)) if kind == "tou" else None,
        spot_factor=price.spot_factor if isinstance(price, DynamicImportPrice) else 1.0,
        markup_eur_kwh=price.markup_eur_kwh if isinstance(price, DynamicImportPrice) else 0.0,
        grid_fee_eur_kwh=components.grid_fee_eur_kwh,
        vat_pct=components.vat_pct,
        feed_in_kind="fixed" if fixed_feed_in else "spot",
        feed_in_eur_kwh=feed_in.price_eur_kwh if isinstance(feed_in, FixedFeedIn) else 0.0,
        feed_in_spot_factor=feed_in.spot_factor if isinstance(feed_in, SpotFeedIn) else 1.0,
        feed_in_markup_eur_kwh=feed_in.markup_eur_kwh if isinstance(feed_in, SpotFeedIn) else 0.0,
        peak_charge_eur_kw_month=components.peak_charge_eur_kw_month,
    )


def _components(version: TariffVersion) -> TariffComponents:
    return TariffComponents.model_validate(version.components)


def tariffs_for(
    *, session: Session, site: str | None, timezone: str, fallback: pricing.Tariff
) -> list[pricing.Tariff]:
    """`fallback` (for steps before the first stored version) followed by the site's stored versions,
    ready for `pricing.step_prices` and `pricing.peak_charge`. No site: the fallback alone."""
    versions = [] if site is None else repository.list_versions(session=session, site=site)
    return [
        fallback,
        *(
            to_pricing(valid_from=v.valid_from, components=_components(v), timezone=timezone)
            for v in versions
        ),
    ]


def has_tariff(*, session: Session, site: str | None) -> bool:
    return site is not None and bool(repository.list_versions(session=session, site=site))


def _read(version: TariffVersion) -> TariffVersionRead:
    return TariffVersionRead(
        version_id=version.version_id,
        site=version.site,
        valid_from=version.valid_from,
        created_at=version.created_at,
        updated_at=version.updated_at,
        **_components(version).model_dump(),
    )


def put_version(*, session: Session, site: str, version_in: TariffVersionCreate) -> TariffVersionRead:
    """Store `version_in` for `site` from its `valid_from`; the version with the same `valid_from` is
    replaced (a repeated PUT changes nothing). Raises InvalidInputError for uncovered ToU hours."""
    check_components(version_in)
    components = TariffComponents.model_validate(version_in.model_dump(exclude={"valid_from"}))
    document = components.model_dump(mode="json")
    version = repository.get_version(session=session, site=site, valid_from=version_in.valid_from)
    if version is None:
        version = TariffVersion(site=site, valid_from=version_in.valid_from, components=document)
        repository.add_version(session=session, version=version)
    elif version.components != document:
        version.components = document
        version.updated_at = utcnow()
    session.commit()
    return _read(version)


def get_tariff(*, session: Session, site: str, settings: Settings) -> TariffRead:
    """The site's versions, oldest first (an empty list: the default tariff applies)."""
    versions = repository.list_versions(session=session, site=site)
    return TariffRead(
        site=site,
        timezone=settings.timezone,
        versions=[_read(v) for v in versions],
        default=_default_text(settings),
    )


def _default_text(settings: Settings) -> str:
    feed_in = settings.export_tariff_eur_kwh
    export = "spot" if feed_in is None else f"{feed_in:g} EUR/kWh (EXPORT_TARIFF_EUR_KWH)"
    return (
        f"KPIs, optimiser and what-if: import = spot + {settings.import_markup_eur_kwh:g} EUR/kWh "
        f"(IMPORT_MARKUP_EUR_KWH), export = {export}"
    )


def delete_version(*, session: Session, site: str, valid_from: date) -> None:
    """Remove the version of `site` valid from `valid_from`; NotFoundError names the field."""
    version = repository.get_version(session=session, site=site, valid_from=valid_from)
    if version is None:
        raise NotFoundError(
            f"site {site!r} has no tariff version valid from {valid_from.isoformat()}: "
            f"GET /tariffs/{site} lists them",
            details={"field": "valid_from", "site": site, "valid_from": valid_from.isoformat()},
        )
    repository.delete_version(session=session, version=version)
    session.commit()


def _grid(ts_from: datetime, ts_to: datetime) -> np.ndarray[tuple[int], np.dtype[np.int64]]:
    start = to_epoch_us(ts_from.astimezone(UTC))
    start -= start % _STEP_US
    return np.arange(start, to_epoch_us(ts_to.astimezone(UTC)), _STEP_US, dtype=np.int64)


def prices(
    *,
    session: Session,
    deps: TariffsDeps,
    site: str,
    ts_from: datetime,
    ts_to: datetime,
    market: str | None,
    product: str | None,
) -> TariffPrices:
    """Import and export EUR/kWh per quarter-hour of [ts_from, ts_to) as the optimiser and what-if see
    them (the default tariff before the first version); null where a spot price it needs is missing."""
    if ts_to <= ts_from:
        raise InvalidInputError("`to` must be after `from`", details={"field": "to"})
    if ts_to - ts_from > timedelta(days=MAX_PRICE_DAYS):
        raise InvalidInputError(
            f"prices cover at most {MAX_PRICE_DAYS} days per request", details={"field": "to"}
        )
    settings = deps.settings
    market, product = market or settings.default_market, product or settings.default_product
    slots = _grid(ts_from, ts_to)
    spot = np.asarray(
        deps.spot_prices(
            session, slots_us=slots, market=market, product=product, ts_from=ts_from, ts_to=ts_to
        ),
        dtype=np.float64,
    )
    tariffs = tariffs_for(
        session=session, site=site, timezone=settings.timezone, fallback=supply_tariff(settings)
    )
    imports, exports = pricing.step_prices(
        ts_us=slots, spot_eur_mwh=spot, tariffs=tariffs, timezone=settings.timezone
    )
    versions = repository.list_versions(session=session, site=site)
    index = np.searchsorted(np.array([t.valid_from_us for t in tariffs]), slots, side="right") - 1
    valid_from = [None, *(v.valid_from for v in versions)]

    def value(x: float, digits: int = 6) -> float | None:
        return round(x, digits) if np.isfinite(x) else None

    steps = [
        PriceStep(
            ts=from_epoch_us(int(ts)),
            import_price_eur_kwh=value(float(imports[i])),
            export_price_eur_kwh=value(float(exports[i])),
            spot_eur_mwh=value(float(spot[i]), 3),
            valid_from=valid_from[int(index[i])],
        )
        for i, ts in enumerate(slots.tolist())
    ]
    return TariffPrices(site=site, step_minutes=15, market=market, product=product, steps=steps)
