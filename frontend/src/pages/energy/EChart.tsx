// ECharts for the energy pages, its own lazy chunk: only the parts these charts use are registered.
import { LineChart } from "echarts/charts";
import { DataZoomInsideComponent, DataZoomSliderComponent, GridComponent, LegendComponent, MarkAreaComponent, MarkLineComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import * as langDE from "echarts/i18n/langDE-obj.js";
import { CanvasRenderer } from "echarts/renderers";
import ReactEChartsCore from "echarts-for-react/esm/core";
import { useEffect, useLayoutEffect, useRef } from "react";
import { useTranslation } from "react-i18next";

echarts.use([LineChart, GridComponent, LegendComponent, TooltipComponent, DataZoomInsideComponent, DataZoomSliderComponent, MarkAreaComponent, MarkLineComponent, CanvasRenderer]);
// Month and weekday names on time axes follow the app's language (English is built in).
echarts.registerLocale("DE", { ...langDE });

export interface EChartProps {
  option: object;
  label: string;
  height?: number;
  testId?: string;
  /** Epoch ms when the data arrived: the first `finished` event after it reports the elapsed time. */
  dataAt?: number;
  onRendered?: (ms: number) => void;
}

export default function EChart({ option, label, height = 300, testId, dataAt, onRendered }: EChartProps) {
  const { i18n } = useTranslation();
  const locale = i18n.language.startsWith("de") ? "DE" : "EN";
  const reported = useRef<number | undefined>(undefined);
  const pending = useRef({ dataAt, onRendered });
  useLayoutEffect(() => {
    pending.current = { dataAt, onRendered };
  });
  const cleanup = useRef<(() => void) | null>(null);
  useEffect(() => () => cleanup.current?.(), []);
  // Bound when echarts-for-react has its instance (it initialises once the element has a size).
  const onChartReady = (instance: echarts.ECharts) => {
    cleanup.current?.();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let last = 0;
    const report = (at: number) => {
      const { dataAt: since, onRendered: done } = pending.current;
      if (since === undefined || reported.current === since) return;
      reported.current = since;
      done?.(Math.max(0, at - since));
    };
    // "finished": every progressive chunk drawn; "rendered" settling for 200 ms is the fallback.
    const onFrame = () => {
      last = Date.now();
      clearTimeout(timer);
      timer = setTimeout(() => report(last), 200);
    };
    const onFinished = () => {
      clearTimeout(timer);
      report(Date.now());
    };
    instance.on("rendered", onFrame);
    instance.on("finished", onFinished);
    onFrame(); // the first draw may have happened before this binding
    cleanup.current = () => {
      clearTimeout(timer);
      instance.off("rendered", onFrame);
      instance.off("finished", onFinished);
    };
  };
  return (
    <div role="img" aria-label={label} data-testid={testId}>
      {/* keyed by locale: ECharts takes the locale at init only */}
      <ReactEChartsCore key={locale} echarts={echarts} opts={{ locale }} onChartReady={onChartReady} option={option} notMerge lazyUpdate={false} style={{ height, width: "100%" }} />
    </div>
  );
}
