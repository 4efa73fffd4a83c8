import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";
import { api } from "../../api/client";
import type { components } from "../../api/schema";
import { Card, Loading } from "../../components/Card";
import { ErrorNote } from "../../components/ErrorNote";
import { useTheme } from "../../components/theme";
import i18n from "../../i18n";
import { num, withUnit } from "../../format";
import { LazyEChart } from "../energy/LazyEChart";
import { palette } from "../energy/palette";
import { addDays, dayKey, iso, isoWeek, midnight, mondayOf } from "../energy/time";
import "./i18n";
import { withParams } from "../../links";
import { HISTORY_WEEKS, pricesLink, type Compare } from "./linkParams";
import { compareOption, CT_KWH, dayOption, EUR_MWH, historyOption, priceText } from "./options";
import { compareDefaults, ctPerKwh, defaultDay, MARKET_TZ, negativePeriods, overlay, stats, stepOf, storedDays, toPairs, type PricePair } from "./priceData";

type PriceSeries = components["schemas"]["PriceSeriesRead"];

const locale = () => (i18n.language?.startsWith("de") ? "de-DE" : "en-GB");
const dayName = (day: string) =>
  new Intl.DateTimeFormat(locale(), { timeZone: MARKET_TZ, weekday: "short", day: "numeric", month: "short", year: "numeric" }).format(new Date(midnight(day, MARKET_TZ) + 12 * 3_600_000));
const clock = (ms: number) => new Intl.DateTimeFormat(locale(), { timeZone: MARKET_TZ, hour: "2-digit", minute: "2-digit" }).format(new Date(ms));
const stamp = (ms: number) => new Intl.DateTimeFormat(locale(), { timeZone: MARKET_TZ, weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" }).format(new Date(ms));

const eur = (value: number | null | undefined) => withUnit(value, EUR_MWH, 1);
const ct = (value: number) => withUnit(ctPerKwh(value), CT_KWH, 2);
const muted = "text-slate-600 dark:text-slate-400";
const control = "rounded border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-700 dark:bg-slate-900";
const button = `${control} hover:bg-slate-100 dark:hover:bg-slate-800 disabled:opacity-50`;

function usePrices(from: number, to: number) {
  return useQuery({
    queryKey: ["prices", from, to],
    queryFn: ({ signal }) => api<PriceSeries>("/timeseries/prices", { query: { from: iso(from), to: iso(to) }, signal }),
  });
}

function Stat({ label, value, hint, negative }: { label: string; value: string; hint?: string; negative?: boolean }) {
  return (
    <div className="rounded-md border border-slate-200 p-3 dark:border-slate-800">
      <dt className={`text-xs font-medium uppercase tracking-wide ${muted}`}>{label}</dt>
      <dd className={`mt-1 text-lg font-semibold tabular-nums ${negative ? "text-red-700 dark:text-red-400" : ""}`}>{value}</dd>
      {hint && <dd className={`text-xs ${muted}`}>{hint}</dd>}
    </div>
  );
}

function NegativeList({ pairs }: { pairs: PricePair[] }) {
  const { t } = useTranslation();
  const periods = useMemo(() => negativePeriods(pairs), [pairs]);
  if (periods.length === 0) return <p className={`mt-2 text-sm ${muted}`} data-testid="no-negative">{t("prices.noNegative")}</p>;
  return (
    <div className="mt-2 text-sm">
      <h3 className="font-semibold">{t("prices.negativeList")} ({periods.length})</h3>
      <ul className="mt-1 space-y-0.5" data-testid="negative-periods">
        {periods.slice(0, 12).map((period) => (
          <li key={period.start} className="tabular-nums">
            <span className="mr-1 text-red-700 dark:text-red-400" aria-hidden>■</span>
            {t("prices.period", { from: stamp(period.start), to: clock(period.end), min: priceText(period.min) })}
          </li>
        ))}
      </ul>
    </div>
  );
}

function DayCard({ day, setDay, today, days }: { day: string; setDay: (day: string) => void; today: string; days: string[] }) {
  const { t } = useTranslation();
  const [theme] = useTheme();
  const prices = usePrices(midnight(day, MARKET_TZ), midnight(addDays(day, 1), MARKET_TZ));
  const pairs = useMemo(() => toPairs(prices.data?.points ?? []), [prices.data]);
  const periods = useMemo(() => negativePeriods(pairs), [pairs]);
  const summary = useMemo(() => stats(pairs), [pairs]);
  const labels = { price: `${t("prices.price")} (EUR/MWh)`, negative: t("prices.negative") };
  const option = useMemo(() => dayOption(pairs, periods, palette(theme === "dark"), labels), [pairs, periods, theme, labels.price, labels.negative]); // eslint-disable-line react-hooks/exhaustive-deps
  const first = days[0];
  const last = days[days.length - 1];
  return (
    <Card
      title={t("prices.dayTitle", { day: dayName(day) })}
      className="lg:col-span-2"
      actions={
        <div className="flex flex-wrap items-center gap-1.5">
          <button type="button" className={button} onClick={() => setDay(addDays(day, -1))} disabled={!!first && day <= first} aria-label={t("prices.previous")}>
            ‹
          </button>
          <button type="button" className={button} onClick={() => setDay(today)} aria-pressed={day === today}>
            {t("prices.today")}
          </button>
          <button type="button" className={button} onClick={() => setDay(addDays(today, 1))} aria-pressed={day === addDays(today, 1)}>
            {t("prices.tomorrow")}
          </button>
          <button type="button" className={button} onClick={() => setDay(addDays(day, 1))} disabled={!!last && day >= last} aria-label={t("prices.next")}>
            ›
          </button>
          <label className="flex items-center gap-1 text-sm">
            <span className="sr-only">{t("prices.day")}</span>
            <input type="date" className={control} value={day} min={first} max={last} onChange={(event) => event.target.value && setDay(event.target.value)} />
          </label>
        </div>
      }
    >
      {prices.isPending ? (
        <Loading />
      ) : prices.isError ? (
        <ErrorNote error={prices.error} />
      ) : pairs.length === 0 ? (
        <p>{t("prices.noDay", { day: dayName(day) })}</p>
      ) : (
        <>
          <dl className="mb-3 grid grid-cols-2 gap-2 md:grid-cols-4" data-testid="day-stats">
            <Stat label={t("prices.min")} value={eur(summary.min?.value)} hint={summary.min ? `${ct(summary.min.value)} · ${t("prices.at", { time: clock(summary.min.at) })}` : undefined} negative={(summary.min?.value ?? 0) < 0} />
            <Stat label={t("prices.max")} value={eur(summary.max?.value)} hint={summary.max ? `${ct(summary.max.value)} · ${t("prices.at", { time: clock(summary.max.at) })}` : undefined} />
            <Stat label={t("prices.mean")} value={eur(summary.mean)} hint={summary.mean === null ? undefined : ct(summary.mean)} />
            <Stat label={t("prices.negativeHours")} value={t("prices.hours", { value: num(summary.negativeHours, 2) })} negative={summary.negativeHours > 0} />
          </dl>
          <LazyEChart option={option} label={t("prices.dayChart")} testId="day-chart" height={300} />
          <p className={`mt-1 text-xs ${muted}`}>{t("prices.negativeLegend")}</p>
          <NegativeList pairs={pairs} />
        </>
      )}
    </Card>
  );
}

const RANGES = HISTORY_WEEKS;

function HistoryCard({ pairs, weeks, setWeeks }: { pairs: PricePair[]; weeks: number; setWeeks: (weeks: number) => void }) {
  const { t } = useTranslation();
  const [theme] = useTheme();
  const periods = useMemo(() => negativePeriods(pairs), [pairs]);
  const last = pairs.length ? (pairs[pairs.length - 1] as PricePair)[0] : 0;
  const labels = { price: `${t("prices.price")} (EUR/MWh)`, negative: t("prices.negative") };
  const option = useMemo(() => historyOption(pairs, periods, palette(theme === "dark"), labels, last - 7 * 86_400_000), [pairs, periods, theme, last, labels.price, labels.negative]); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <Card
      title={t("prices.history")}
      className="lg:col-span-2"
      actions={
        <label className="flex items-center gap-2 text-sm">
          {t("prices.range")}
          <select className={control} value={weeks} onChange={(event) => setWeeks(Number(event.target.value))}>
            {RANGES.map((count) => (
              <option key={count} value={count}>
                {t("prices.weeks", { count })}
              </option>
            ))}
          </select>
        </label>
      }
    >
      <p className={`mb-1 text-xs ${muted}`}>
        {t("prices.zoomHint")} {t("prices.points", { count: pairs.length })}
      </p>
      <LazyEChart option={option} label={t("prices.historyChart")} testId="history-chart" height={340} />
      <p className={`mt-1 text-xs ${muted}`}>{t("prices.negativeLegend")}</p>
      <NegativeList pairs={pairs} />
    </Card>
  );
}

function CompareCard({ pairs, day, days, initial }: { pairs: PricePair[]; day: string; days: string[]; initial: Compare | null }) {
  const { t } = useTranslation();
  const [theme] = useTheme();
  // A linked period of several days starts here: its days (or ISO weeks) laid over each other.
  const [mode, setMode] = useState<"day" | "week">(initial?.mode ?? "day");
  const [pickedDays, setPickedDays] = useState<string[] | null>(initial?.mode === "day" ? initial.keys : null);
  const [pickedWeeks, setPickedWeeks] = useState<string[] | null>(initial?.mode === "week" ? initial.keys : null);
  const weeks = useMemo(() => [...new Set(days.map(mondayOf))], [days]);
  // The choices: the last 15 stored days (all stored weeks), and whatever a link picked beyond them.
  const dayChoices = [...new Set([...days.slice(-15), ...(pickedDays ?? [])])].sort().reverse();
  const weekChoices = [...new Set([...weeks, ...(pickedWeeks ?? [])])].sort().reverse();
  const chosen = mode === "day" ? (pickedDays ?? compareDefaults(day, days)) : (pickedWeeks ?? weekChoices.slice(0, 2));
  const setChosen = mode === "day" ? setPickedDays : setPickedWeeks;
  const keys = [...chosen].sort().reverse();
  const weekdays = t("prices.weekdays", { returnObjects: true }) as string[];
  const nameOf = (key: string) => (mode === "day" ? dayName(key) : t("prices.week", { week: isoWeek(key), day: dayName(key) }));
  // A few days or weeks of quarter-hours: cheap enough to build on every render.
  const option = compareOption(overlay(pairs, keys, mode), mode, palette(theme === "dark"), nameOf, (i) => weekdays[i % 7] ?? "");
  const toggle = (key: string) => setChosen(chosen.includes(key) ? chosen.filter((k) => k !== key) : [...chosen, key].slice(-6));
  return (
    <Card
      title={t("prices.compare")}
      className="lg:col-span-2"
      actions={
        <div role="radiogroup" aria-label={t("prices.compare")} className="flex gap-1">
          {(["day", "week"] as const).map((value) => (
            <button key={value} type="button" role="radio" aria-checked={mode === value} className={`${button} ${mode === value ? "bg-sky-100 font-semibold dark:bg-sky-900" : ""}`} onClick={() => setMode(value)}>
              {value === "day" ? t("prices.byDay") : t("prices.byWeek")}
            </button>
          ))}
        </div>
      }
    >
      <fieldset className="mb-2">
        <legend className={`mb-1 text-xs font-medium uppercase tracking-wide ${muted}`}>{t("prices.pick")}</legend>
        <div className="flex flex-wrap gap-x-3 gap-y-1 text-sm" data-testid="compare-choices">
          {(mode === "day" ? dayChoices : weekChoices).map((key) => (
            <label key={key} className="flex items-center gap-1">
              <input type="checkbox" checked={chosen.includes(key)} onChange={() => toggle(key)} />
              {nameOf(key)}
            </label>
          ))}
        </div>
      </fieldset>
      <LazyEChart option={option} label={t("prices.compareChart")} testId="compare-chart" height={320} />
    </Card>
  );
}

export default function Prices() {
  const { t } = useTranslation();
  const [today] = useState(() => dayKey(Date.now(), MARKET_TZ));
  // Luna links here with ?from=…&to=… (read once; a bad or missing date: the defaults).
  const [params, setParams] = useSearchParams();
  const [link] = useState(() => pricesLink(params, today));
  const [weeks, setWeeks] = useState<number>(link.weeks);
  const history = usePrices(midnight(addDays(mondayOf(today), -7 * (weeks - 1)), MARKET_TZ), midnight(addDays(today, 2), MARKET_TZ));
  const pairs = useMemo(() => toPairs(history.data?.points ?? []), [history.data]);
  const days = useMemo(() => storedDays(pairs), [pairs]);
  const [chosenDay, setChosenDay] = useState<string | null>(link.day);
  const setDay = (next: string) => {
    setChosenDay(next);
    setParams((current) => withParams(current, { from: next, to: addDays(next, 1) }), { replace: true });
  };
  const day = chosenDay ?? (history.isSuccess ? defaultDay(days, today) : null);
  const step = stepOf(pairs);
  return (
    <div className="space-y-4">
      <div>
        <h1 className="text-2xl font-semibold">{t("prices.title")}</h1>
        {history.data && (
          <p className={`text-sm ${muted}`}>
            {t("prices.intro", { market: history.data.market, product: history.data.product, resolution: step === 3_600_000 ? t("prices.resolution60") : t("prices.resolution15"), tz: MARKET_TZ })}
          </p>
        )}
      </div>
      {history.isError && <ErrorNote error={history.error} />}
      {history.isPending && <Loading />}
      <div className="grid gap-4 lg:grid-cols-2">
        {day && <DayCard day={day} setDay={setDay} today={today} days={days} />}
        {history.isSuccess && pairs.length > 0 && <HistoryCard pairs={pairs} weeks={weeks} setWeeks={setWeeks} />}
        {history.isSuccess && day && pairs.length > 0 && <CompareCard pairs={pairs} day={day} days={days} initial={link.compare} />}
      </div>
    </div>
  );
}
