"""The fixed arm set: actions a site operator can take in Luna-IEMS (docs/learning.md, "Arms").

Each arm maps to something the product already does: the optimiser's battery schedule, what-if
variations (battery, PV, tariff, peak limit: `decisions.scenario_service`), alerts and rules,
tariffs and prices. Ids are stable (stored in recommendations and bandit statistics, exported by the
DP export): rename a title freely, never an id. `description` is what the content-based ranking embeds.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Arm:
    arm_id: str
    title: str
    description: str
    link: str | None


ARMS: tuple[Arm, ...] = (
    Arm(
        "charge_battery_cheap",
        "Charge the battery in cheap hours",
        "Charge the battery storage from the grid when electricity prices are low (night, windy hours), "
        "so the stored energy covers expensive hours later. Battery state of charge, spot prices.",
        "/prices",
    ),
    Arm(
        "discharge_battery_peak",
        "Discharge the battery when prices are high",
        "Use the energy stored in the battery during expensive evening hours or at the load peak instead "
        "of importing from the grid. Battery state of charge, high prices, peak shaving.",
        "/playbook",
    ),
    Arm(
        "shift_load_to_pv",
        "Shift flexible load to the PV midday",
        "Move flexible consumers (heat pump, EV charging, washing, pumps) to midday when the solar PV "
        "system produces most, to use own solar generation instead of feeding it in.",
        "/playbook",
    ),
    Arm(
        "review_alerts",
        "Review open alerts",
        "Look at the open alerts and anomalies of meters and devices: failed readings, unusual "
        "consumption, rule violations; acknowledge or fix them.",
        "/smart-meters",
    ),
    Arm(
        "lower_peak_limit",
        "Lower the import peak limit",
        "Set a lower grid import peak limit (kW) so the optimiser shaves load peaks and the demand "
        "charge of the grid fee falls; try it first as a what-if scenario.",
        "/playbook",
    ),
    Arm(
        "check_tariff",
        "Check the tariff",
        "Compare the electricity tariff: dynamic spot price, time-of-use zones, fixed price, feed-in "
        "tariff and grid fees; store the site's tariff so costs are right.",
        "/prices",
    ),
    Arm(
        "run_what_if",
        "Try a what-if scenario",
        "Replay a stored period with a bigger battery, more PV or another tariff and compare costs, "
        "self-consumption and CO2 before investing.",
        "/playbook",
    ),
    Arm(
        "ask_luna",
        "Ask Luna or read the guides",
        "Search the documentation and manuals, ask the assistant Luna a question about the system, "
        "regulations or devices.",
        "/support",
    ),
)
ARM_IDS: tuple[str, ...] = tuple(arm.arm_id for arm in ARMS)
BY_ID: dict[str, Arm] = {arm.arm_id: arm for arm in ARMS}
