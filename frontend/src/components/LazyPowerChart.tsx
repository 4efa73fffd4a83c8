import { lazy, Suspense } from "react";
import { Loading } from "./Card";
import { ErrorBoundary } from "./ErrorBoundary";
import { useTheme } from "./theme";

export interface Series {
  name: string;
  color: string;
  /** [epoch ms, value] */
  points: [number, number][];
}

const PowerChart = lazy(() => import("./PowerChart"));

/** A time chart of power or energy; the charting library loads on first use (its own chunk). */
export function LazyPowerChart(props: { series: Series[]; unit: string; label: string }) {
  const [theme] = useTheme();
  return (
    <ErrorBoundary>
      <Suspense fallback={<Loading />}>
        <PowerChart {...props} dark={theme === "dark"} />
      </Suspense>
    </ErrorBoundary>
  );
}
