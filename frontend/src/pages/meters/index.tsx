import { lazy, Suspense } from "react";
import { Loading } from "../../components/Card";

const Meters = lazy(() => import("./Meters"));

/** Smart meters, loaded as its own chunk (the page and its charts are not in the entry bundle). */
export function MetersPage() {
  return (
    <Suspense fallback={<Loading />}>
      <Meters />
    </Suspense>
  );
}
