// ECharts options of the price charts (plain objects: built and tested without a canvas).
import { num } from "../../format";
import type { Palette } from "../energy/palette";
import { ctPerKwh, type Overlay, type Period, type PricePair } from "./priceData";

export const EUR_MWH = "EUR/MWh";
export const CT_KWH = "ct/kWh";

/** "84.3 EUR/MWh (8.43 ct/kWh)" */
export function priceText(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return `${num(value, 1)} ${EUR_MWH} (${num(ctPerKwh(value), 2)} ${CT_KWH})`;
}

function axisBase(p: Palette) {
  return { axisLabel: { color: p.text, hideOverlap: true }, axisLine: { lineStyle: { color: p.grid } }, nameTextStyle: { color: p.text } };
}

/** A tick step giving 4–8 ticks over `span` (EUR/MWh): 10 EUR/MWh = 1 ct/kWh, so both axes get round labels. */
export function niceStep(span: number): number {
  for (const step of [5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000]) if (span / step <= 8) return step;
  return 10_000;
}

/** Left axis EUR/MWh, right axis ct/kWh on the same scale (min, max and step fixed so the ticks align). */
export function priceAxes(p: Palette, values: (number | null)[]) {
  let lo = 0;
  let hi = 0;
  for (const v of values) {
    if (v === null) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const step = niceStep((hi - lo) * 1.05 || 10);
  const min = Math.floor(lo / step) * step;
  const max = Math.ceil((hi + step * 0.25) / step) * step;
  return [
    { type: "value", name: EUR_MWH, min, max, interval: step, ...axisBase(p), axisLabel: { color: p.text, formatter: (v: number) => num(v, 0) }, splitLine: { lineStyle: { color: p.grid } } },
    { type: "value", name: CT_KWH, min: min / 10, max: max / 10, interval: step / 10, ...axisBase(p), axisLabel: { color: p.text, formatter: (v: number) => num(v, step < 10 ? 2 : 1) }, splitLine: { show: false } },
  ];
}

function negativeAreas(p: Palette, periods: Period[], label: string) {
  return {
    silent: true,
    itemStyle: { color: p.negativeArea },
    label: { show: false },
    data: periods.slice(0, 500).map((period) => [{ xAxis: period.start, name: label }, { xAxis: period.end }]),
  };
}

function zeroLine(p: Palette) {
  return { silent: true, symbol: "none", lineStyle: { color: p.negative, type: "dashed", width: 1 }, label: { show: false }, data: [{ yAxis: 0 }] };
}

const timeTooltip = (p: Palette) => ({
  trigger: "axis",
  backgroundColor: p.dark ? "#0f172a" : "#ffffff",
  borderColor: p.grid,
  textStyle: { color: p.text },
  valueFormatter: (value: number) => priceText(value),
});

export interface Labels {
  price: string;
  negative: string;
}

/** One day at its resolution: a step line (a price holds for its interval), negative intervals shaded. */
export function dayOption(pairs: PricePair[], periods: Period[], p: Palette, labels: Labels) {
  return {
    animation: false,
    textStyle: { color: p.text },
    tooltip: timeTooltip(p),
    grid: { left: 64, right: 64, top: 40, bottom: 36 },
    xAxis: { type: "time", ...axisBase(p), axisLabel: { color: p.text, hideOverlap: true, formatter: "{HH}:{mm}" } },
    yAxis: priceAxes(p, pairs.map(([, v]) => v)),
    series: [
      {
        name: labels.price,
        type: "line",
        step: "start",
        showSymbol: false,
        data: pairs,
        color: p.series[0],
        lineStyle: { width: 2 },
        markArea: negativeAreas(p, periods, labels.negative),
        markLine: zeroLine(p),
      },
    ],
  };
}

/** Weeks of history, zoomable (wheel/drag inside, slider below); LTTB keeps peaks when zoomed out. */
export function historyOption(pairs: PricePair[], periods: Period[], p: Palette, labels: Labels, zoomStart: number) {
  return {
    animation: false,
    textStyle: { color: p.text },
    tooltip: timeTooltip(p),
    grid: { left: 64, right: 64, top: 40, bottom: 76 },
    xAxis: { type: "time", ...axisBase(p) },
    yAxis: priceAxes(p, pairs.map(([, v]) => v)),
    dataZoom: [
      { type: "inside", startValue: zoomStart, filterMode: "none" },
      { type: "slider", startValue: zoomStart, bottom: 16, height: 28, filterMode: "none", textStyle: { color: p.text }, borderColor: p.grid },
    ],
    series: [
      {
        name: labels.price,
        type: "line",
        showSymbol: false,
        sampling: "lttb",
        progressive: 5000,
        progressiveThreshold: 10000,
        data: pairs,
        color: p.series[0],
        lineStyle: { width: 1.5 },
        markArea: negativeAreas(p, periods, labels.negative),
        markLine: zeroLine(p),
      },
    ],
  };
}

/** Days (0–24 h) or weeks (0–168 h) laid over each other. */
export function compareOption(overlays: Overlay[], mode: "day" | "week", p: Palette, nameOf: (key: string) => string, weekday: (index: number) => string) {
  const span = mode === "day" ? 24 : 168;
  const hourLabel = (h: number) => `${String(Math.floor(h)).padStart(2, "0")}:${String(Math.round((h % 1) * 60)).padStart(2, "0")}`;
  return {
    animation: false,
    textStyle: { color: p.text },
    tooltip: {
      ...timeTooltip(p),
      axisPointer: { label: { formatter: ({ value }: { value: number }) => (mode === "day" ? hourLabel(value) : `${weekday(Math.floor(value / 24))} ${hourLabel(value % 24)}`) } },
    },
    legend: { top: 0, textStyle: { color: p.text }, type: "scroll" },
    grid: { left: 64, right: 64, top: 48, bottom: 36 },
    xAxis: {
      type: "value",
      min: 0,
      max: span,
      interval: mode === "day" ? 3 : 24,
      ...axisBase(p),
      axisLabel: { color: p.text, formatter: (h: number) => (h >= span ? "" : mode === "day" ? hourLabel(h) : weekday(Math.floor(h / 24))), align: mode === "week" ? "left" : "center" },
      splitLine: { show: true, lineStyle: { color: p.grid, opacity: 0.5 } },
    },
    yAxis: priceAxes(p, overlays.flatMap((o) => o.points.map(([, v]) => v))),
    series: overlays.map((o, i) => ({
      name: nameOf(o.key),
      type: "line",
      step: "start",
      showSymbol: false,
      data: o.points,
      color: p.series[i % p.series.length],
      lineStyle: { width: i === 0 ? 2.5 : 1.5 },
      markLine: i === 0 ? zeroLine(p) : undefined,
    })),
  };
}
