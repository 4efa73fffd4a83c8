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
