import { lazy, Suspense } from "react";
import { Loading } from "../../components/Card";
import { ErrorBoundary } from "../../components/ErrorBoundary";
import type { EChartProps } from "./EChart";

const EChart = lazy(() => import("./EChart"));

/** A chart of the energy pages; ECharts loads on first use (its own chunk). */
export function LazyEChart(props: EChartProps) {
  return (
    <ErrorBoundary>
      <Suspense fallback={<Loading />}>
        <EChart {...props} />
      </Suspense>
    </ErrorBoundary>
  );
}
