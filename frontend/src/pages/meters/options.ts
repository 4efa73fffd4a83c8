// ECharts option of the meter trend: built for large series (a year of quarter-hours, 35,040 points).
import { num } from "../../format";
import type { Palette } from "../energy/palette";
import type { Pair } from "./meterData";

export interface TrendSeries {
  name: string;
  data: Pair[];
}

export function trendOption(series: TrendSeries[], unit: string, p: Palette) {
  const many = series.some((s) => s.data.length > 2000);
  const few = series.every((s) => s.data.length < 120);
  return {
    animation: false,
    textStyle: { color: p.text },
    legend: { top: 0, textStyle: { color: p.text } },
    tooltip: {
      trigger: "axis",
      backgroundColor: p.dark ? "#0f172a" : "#ffffff",
      borderColor: p.grid,
      textStyle: { color: p.text },
      valueFormatter: (value: number) => `${num(value, 2)} ${unit}`,
    },
    grid: { left: 64, right: 24, top: 40, bottom: 76 },
    xAxis: { type: "time", axisLabel: { color: p.text, hideOverlap: true }, axisLine: { lineStyle: { color: p.grid } } },
    yAxis: {
      type: "value",
      name: unit,
      nameTextStyle: { color: p.text },
      axisLabel: { color: p.text, formatter: (v: number) => num(v, v !== 0 && Math.abs(v) < 10 ? 1 : 0) },
      splitLine: { lineStyle: { color: p.grid } },
    },
    dataZoom: [
      { type: "inside", filterMode: "none" },
      { type: "slider", bottom: 16, height: 28, filterMode: "none", textStyle: { color: p.text }, borderColor: p.grid },
    ],
    series: series.map((s, i) => ({
      name: s.name,
      type: "line",
      data: s.data,
      color: p.series[i % p.series.length],
      showSymbol: few,
      symbolSize: 5,
      lineStyle: { width: many ? 1 : 1.5 },
      // Large series: LTTB keeps peaks and troughs when more points than pixels; drawn in chunks.
      sampling: "lttb",
      large: true,
      largeThreshold: 2000,
      progressive: 5000,
      progressiveThreshold: 10_000,
      areaStyle: i === 0 ? { opacity: 0.12 } : undefined,
    })),
  };
}
