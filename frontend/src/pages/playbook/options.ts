// ECharts options of the Playbook (LineChart only: the energy pages' chunk registers nothing else).
import type { Palette } from "../energy/palette";
import type { Pair, StackSeries } from "./data";

const axis = (p: Palette) => ({ axisLine: { lineStyle: { color: p.grid } }, axisLabel: { color: p.text, hideOverlap: true }, splitLine: { lineStyle: { color: p.grid } } });
const valueAxis = (p: Palette, name: string, extra: object = {}) => ({ type: "value", name, nameTextStyle: { color: p.text, align: "left" }, ...axis(p), ...extra });

const COLORS: Record<StackSeries["key"], number> = { import: 0, pv: 1, discharge: 2, load: 5, deferrable: 4, charge: -1, export: 3, curtailment: -2 };
const colorOf = (p: Palette, key: StackSeries["key"]) => (COLORS[key] === -1 ? p.muted : COLORS[key] === -2 ? p.negative : p.series[COLORS[key] % p.series.length]);

export function flowsOption(series: StackSeries[], p: Palette, nameOf: (s: StackSeries) => string) {
  return {
    animation: false,
    textStyle: { color: p.text },
    tooltip: { trigger: "axis", valueFormatter: (v: number) => `${v.toFixed(1)} kW` },
    legend: { top: 0, textStyle: { color: p.text }, type: "scroll" },
    grid: { left: 64, right: 24, top: 56, bottom: 32 },
    xAxis: { type: "time", ...axis(p), splitLine: { show: false }, axisLabel: { color: p.text, hideOverlap: true, formatter: "{HH}:{mm}" } },
    yAxis: valueAxis(p, "kW"),
    series: series.map((s) => ({
      name: nameOf(s),
      type: "line",
      stack: s.stack,
      step: "start",
      showSymbol: false,
      areaStyle: { opacity: s.key === "charge" || s.key === "curtailment" ? 0.45 : 0.7 },
      lineStyle: { width: 0.5 },
      color: colorOf(p, s.key),
      data: s.points,
    })),
  };
}

export function socOption(soc: { name: string; points: Pair[] }[], price: Pair[], p: Palette, labels: { soc: string; price: string }) {
  return {
    animation: false,
    textStyle: { color: p.text },
    tooltip: { trigger: "axis" },
    legend: { top: 0, textStyle: { color: p.text } },
    grid: { left: 64, right: 72, top: 56, bottom: 32 },
    xAxis: { type: "time", ...axis(p), splitLine: { show: false }, axisLabel: { color: p.text, hideOverlap: true, formatter: "{HH}:{mm}" } },
    yAxis: [valueAxis(p, "%", { min: 0, max: 100 }), valueAxis(p, "ct/kWh", { splitLine: { show: false }, nameTextStyle: { color: p.text, align: "right" } })],
    series: [
      ...soc.map((s, i) => ({ name: soc.length > 1 ? `${labels.soc} ${s.name} (%)` : `${labels.soc} (%)`, type: "line", showSymbol: false, areaStyle: { opacity: 0.25 }, color: p.series[(2 + i) % p.series.length], data: s.points, tooltip: { valueFormatter: (v: number) => `${v.toFixed(1)} %` } })),
      { name: `${labels.price} (ct/kWh)`, type: "line", step: "start", yAxisIndex: 1, showSymbol: false, color: p.series[1], lineStyle: { width: 1.5, type: "dashed" }, data: price, tooltip: { valueFormatter: (v: number) => `${v.toFixed(2)} ct/kWh` } },
    ],
  };
}

export function firingsOption(rows: { rule: string; row: number; points: Pair[] }[], p: Palette, range: [number, number], timeLabel: string) {
  return {
    animation: false,
    textStyle: { color: p.text },
    tooltip: { trigger: "item", formatter: (item: { seriesName: string; value: Pair }) => `${item.seriesName}<br/>${new Date(item.value[0]).toLocaleString()}` },
    grid: { left: 140, right: 24, top: 16, bottom: 40 },
    xAxis: { type: "time", min: range[0], max: range[1], name: timeLabel, nameLocation: "middle", nameGap: 26, nameTextStyle: { color: p.text }, ...axis(p) },
    yAxis: { type: "category", data: rows.map((r) => r.rule), inverse: true, ...axis(p), axisLabel: { color: p.text, width: 128, overflow: "truncate" } },
    series: rows.map((r, i) => ({
      name: r.rule,
      type: "line",
      data: r.points.map(([t]) => [t, r.rule]),
      lineStyle: { width: 0, opacity: 0 },
      symbol: "rect",
      symbolSize: [3, 14],
      showSymbol: true,
      color: p.series[i % p.series.length],
    })),
  };
}
