// ECharts, loaded as its own chunk (React.lazy in LazyPowerChart): only the parts used here are imported.
import { LineChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";
import ReactEChartsCore from "echarts-for-react/esm/core";
import type { Series } from "./LazyPowerChart";

echarts.use([LineChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

export default function PowerChart({ series, unit, dark, label }: { series: Series[]; unit: string; dark: boolean; label: string }) {
  const text = dark ? "#cbd5e1" : "#334155";
  const grid = dark ? "#334155" : "#e2e8f0";
  const option = {
    animation: false,
    textStyle: { color: text },
    tooltip: { trigger: "axis", valueFormatter: (value: number) => `${value.toFixed(1)} ${unit}` },
    legend: { top: 0, textStyle: { color: text } },
    grid: { left: 56, right: 16, top: 36, bottom: 36 },
    xAxis: { type: "time", axisLabel: { color: text, hideOverlap: true }, axisLine: { lineStyle: { color: grid } } },
    yAxis: {
      type: "value",
      name: unit,
      nameTextStyle: { color: text },
      axisLabel: { color: text },
      splitLine: { lineStyle: { color: grid } },
    },
    series: series.map((s) => ({ name: s.name, type: "line", showSymbol: false, data: s.points, color: s.color, areaStyle: { opacity: 0.15 } })),
  };
  return (
    <div role="img" aria-label={label}>
      <ReactEChartsCore echarts={echarts} option={option} notMerge style={{ height: 280, width: "100%" }} />
    </div>
  );
}
