// Types of the API's JSON, generated from the committed openapi.json (`npm run gen:api`; `npm run
// check:api` fails when they drift).
import type { components } from "./schema";

type Schemas = components["schemas"];
export type CallerRead = Schemas["CallerRead"];
export type Role = Schemas["Role"];
export type Kpis = Schemas["Kpis"];
export type StatusSummary = Schemas["StatusSummary"];
export type Readiness = Schemas["Readiness"];
export type ComponentRead = Schemas["ComponentRead"];
export type AlertList = Schemas["AlertList"];
export type AlertRead = Schemas["AlertRead"];
export type MeterList = Schemas["MeterList"];
export type MeterRead = Schemas["MeterRead"];
export type ReadingPoint = Schemas["ReadingPoint"];
export type ReadingSeries = Schemas["ReadingSeries"];
export type ReadingColumns = Schemas["ReadingColumns"];
export type ErrorResponse = Schemas["ErrorResponse"];
// The learning loop (docs/learning.md): telemetry, feedback, recommendations, memory.
export type EventIn = Schemas["EventIn"];
export type FeedbackIn = Schemas["FeedbackIn"];
export type FeedbackRead = Schemas["FeedbackRead"];
export type RecommendIn = Schemas["RecommendIn"];
export type RecommendRead = Schemas["RecommendRead"];
export type RecommendItem = Schemas["RecommendItem"];
export type MemoryRead = Schemas["MemoryRead"];
export type MemoryUpdate = Schemas["MemoryUpdate"];
