// The admin console's API types, from the generated schema (openapi.json).
import type { components } from "../../api/schema";

type Schemas = components["schemas"];
export type ApiKeyRead = Schemas["ApiKeyRead"];
export type ApiKeyList = Schemas["ApiKeyList"];
export type ApiKeyCreated = Schemas["ApiKeyCreated"];
export type AuditList = Schemas["AuditList"];
export type AuditRead = Schemas["AuditRead"];
export type BackupList = Schemas["BackupList"];
export type BackupRead = Schemas["BackupRead"];
export type BackupVerified = Schemas["BackupVerified"];
export type PrivacyRead = Schemas["PrivacyRead"];
export type DocumentList = Schemas["DocumentList"];
export type DocumentRead = Schemas["DocumentRead"];
export type DocumentDetail = Schemas["DocumentDetail"];
export type DocumentIngested = Schemas["DocumentIngested"];
export type MeterKind = Schemas["MeterKind"];
export type MeterRead = Schemas["MeterRead"];
export type MeterList = Schemas["MeterList"];
export type WebhookRead = Schemas["WebhookRead"];
export type WebhookList = Schemas["WebhookList"];
export type WebhookCreated = Schemas["WebhookCreated"];
export type DeliveryRead = Schemas["DeliveryRead"];
export type DeliveryList = Schemas["DeliveryList"];
export type DeviceList = Schemas["DeviceList"];
export type DispatchRead = Schemas["DispatchRead"];
export type PriceSourceList = Schemas["PriceSourceList"];
