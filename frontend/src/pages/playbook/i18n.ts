// The Playbook page's texts (own bundle, merged into "translation" at load: no edits to the shared files).
import i18n from "../../i18n";

const en = {
  playbook: {
    title: "Playbook",
    intro: "Why → What → How → What-if: the rules that watch the site, the optimiser's plan for the next 24 hours, and what a bigger battery, more PV or another tariff would change.",
    steps: { why: "Why", what: "What", how: "How", whatIf: "What-if" },
    readOnly: "Read-only: editing rules and running what-if scenarios needs the role analyst.",
    rules: "Rules", rulesHint: "Each rule watches the site's values every 5 minutes and raises an alert when its condition holds.",
    name: "Rule", condition: "Condition", enabled: "Enabled", disabled: "Off", on: "On", lastFired: "Last fired", never: "never",
    edit: "Edit", editTitle: "Edit rule {{name}}", save: "Save", cancel: "Cancel", saved: "Saved.",
    when: "Condition (when)", description: "Description", forMinutes: "Must hold for (min)", cooldown: "Quiet after firing (min)",
    message: "Alert message", enabledLabel: "Rule enabled",
    dryRun: "Dry run: when each rule would have fired", dryRunChart: "Firings of each rule over the last {{days}} days (one mark per firing)",
    dryRunHint: "Evaluated over the last {{days}} days in 15-minute steps ({{steps}} steps).",
    fired: "Fired", stepsTrue: "Condition held", missing: "Missing values", firings: "{{count}} firings", time: "Time",
    plan: "Plan for the next 24 hours", planHint: "Optimised for cost with the stored forecasts and prices; assumed: a {{capacity}} kWh battery ({{power}} kW) and an EV charge of {{ev}} kWh at {{evPower}} kW.",
    saving: "Saving", planCost: "Planned cost", baselineCost: "Without flexibility", peak: "Peak import", status: "Solver",
    flows: "Power flows (stacked, kW)", flowsChart: "Stacked power flows over the next 24 hours in kW: sources above zero, uses below",
    socChart: "Battery state of charge in % and import price in ct/kWh over the next 24 hours",
    soc: "State of charge", power: "Power", price: "Import price",
    series: { import: "Grid import", pv: "PV", discharge: "Battery discharge", load: "Base load", deferrable: "Deferrable: {{name}}", charge: "Battery charge", export: "Grid export", curtailment: "Curtailed PV" },
    whatIf: "What-if", whatIfHint: "Replays the last {{days}} days of the site with the chosen changes; the baseline is the site as it is.",
    battery: "Battery size", pvScale: "PV scale", markup: "Tariff: markup on the spot price",
    batteryNote: "Power: half the capacity per hour ({{power}} kW).",
    run: "Run what-if", running: "Running…",
    baseline: "Baseline", variant: "What-if", delta: "Change",
    kpi: { cost: "Cost", import: "Grid import", export: "Grid export", autarky: "Autarky", selfConsumption: "Self-consumption", peak: "Peak import", co2: "CO₂" },
    how: "How", cycles: "Full cycles", charged: "Charged", discharged: "Discharged",
    lastScenario: "Latest stored scenario “{{name}}” from {{at}}.", linkedScenario: "Linked scenario “{{name}}” from {{at}}.", noScenario: "No what-if has been run yet.",
    noRules: "No rules yet.",
  },
};

const de: typeof en = {
  playbook: {
    title: "Playbook",
    intro: "Warum → Was → Wie → Was-wäre-wenn: die Regeln, die den Standort überwachen, der Plan des Optimierers für die nächsten 24 Stunden und was eine größere Batterie, mehr PV oder ein anderer Tarif ändern würden.",
    steps: { why: "Warum", what: "Was", how: "Wie", whatIf: "Was-wäre-wenn" },
    readOnly: "Nur lesen: Regeln bearbeiten und Szenarien rechnen erfordert die Rolle analyst.",
    rules: "Regeln", rulesHint: "Jede Regel prüft die Werte des Standorts alle 5 Minuten und meldet, wenn ihre Bedingung gilt.",
    name: "Regel", condition: "Bedingung", enabled: "Aktiv", disabled: "Aus", on: "An", lastFired: "Zuletzt ausgelöst", never: "nie",
    edit: "Bearbeiten", editTitle: "Regel {{name}} bearbeiten", save: "Speichern", cancel: "Abbrechen", saved: "Gespeichert.",
    when: "Bedingung (when)", description: "Beschreibung", forMinutes: "Muss gelten für (min)", cooldown: "Ruhe nach Auslösung (min)",
    message: "Meldungstext", enabledLabel: "Regel aktiv",
    dryRun: "Probelauf: wann jede Regel ausgelöst hätte", dryRunChart: "Auslösungen je Regel in den letzten {{days}} Tagen (eine Marke je Auslösung)",
    dryRunHint: "Ausgewertet über die letzten {{days}} Tage in 15-Minuten-Schritten ({{steps}} Schritte).",
    fired: "Ausgelöst", stepsTrue: "Bedingung galt", missing: "Fehlende Werte", firings: "{{count}} Auslösungen", time: "Zeit",
    plan: "Plan für die nächsten 24 Stunden", planHint: "Kostenoptimiert mit den gespeicherten Prognosen und Preisen; angenommen: eine Batterie mit {{capacity}} kWh ({{power}} kW) und eine E-Auto-Ladung von {{ev}} kWh mit {{evPower}} kW.",
    saving: "Ersparnis", planCost: "Geplante Kosten", baselineCost: "Ohne Flexibilität", peak: "Bezugsspitze", status: "Solver",
    flows: "Leistungsflüsse (gestapelt, kW)", flowsChart: "Gestapelte Leistungsflüsse der nächsten 24 Stunden in kW: Quellen über null, Verbraucher darunter",
    socChart: "Ladezustand der Batterie in % und Bezugspreis in ct/kWh der nächsten 24 Stunden",
    soc: "Ladezustand", power: "Leistung", price: "Bezugspreis",
    series: { import: "Netzbezug", pv: "PV", discharge: "Batterie entladen", load: "Grundlast", deferrable: "Verschiebbar: {{name}}", charge: "Batterie laden", export: "Einspeisung", curtailment: "Abgeregelte PV" },
    whatIf: "Was-wäre-wenn", whatIfHint: "Spielt die letzten {{days}} Tage des Standorts mit den gewählten Änderungen nach; Basis ist der Standort, wie er ist.",
    battery: "Batteriegröße", pvScale: "PV-Faktor", markup: "Tarif: Aufschlag auf den Spotpreis",
    batteryNote: "Leistung: halbe Kapazität pro Stunde ({{power}} kW).",
    run: "Szenario rechnen", running: "Rechnet…",
    baseline: "Basis", variant: "Szenario", delta: "Änderung",
    kpi: { cost: "Kosten", import: "Netzbezug", export: "Einspeisung", autarky: "Autarkie", selfConsumption: "Eigenverbrauch", peak: "Bezugsspitze", co2: "CO₂" },
    how: "Wie", cycles: "Vollzyklen", charged: "Geladen", discharged: "Entladen",
    lastScenario: "Zuletzt gespeichertes Szenario „{{name}}“ vom {{at}}.", linkedScenario: "Verlinktes Szenario „{{name}}“ vom {{at}}.", noScenario: "Noch kein Szenario gerechnet.",
    noRules: "Noch keine Regeln.",
  },
};

i18n.addResourceBundle("en", "translation", en, true, false);
i18n.addResourceBundle("de", "translation", de, true, false);

export { de, en };
