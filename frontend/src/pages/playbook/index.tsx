import { lazy, Suspense } from "react";
import { Loading } from "../../components/Card";

const Playbook = lazy(() => import("./Playbook"));

/** The Playbook, loaded as its own chunk (the page and its charts are not in the entry bundle). */
export function PlaybookPage() {
  return (
    <Suspense fallback={<Loading />}>
      <Playbook />
    </Suspense>
  );
}
