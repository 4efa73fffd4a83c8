// The Support page, loaded on first visit (its own chunk, outside the entry bundle).
import { lazy, Suspense } from "react";
import { Loading } from "../../components/Card";

const Page = lazy(() => import("./Support").then((m) => ({ default: m.Support })));

export function SupportPage() {
  return (
    <Suspense fallback={<Loading />}>
      <Page />
    </Suspense>
  );
}
