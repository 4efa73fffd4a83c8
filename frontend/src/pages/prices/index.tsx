import { lazy, Suspense } from "react";
import { Loading } from "../../components/Card";

const Prices = lazy(() => import("./Prices"));

/** Market prices, loaded as its own chunk (the page and its charts are not in the entry bundle). */
export function PricesPage() {
  return (
    <Suspense fallback={<Loading />}>
      <Prices />
    </Suspense>
  );
}
