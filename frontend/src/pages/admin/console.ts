export { Audit } from "./Audit";
export { Backups } from "./Backups";
export { Documents } from "./Documents";
export { Integrations } from "./Integrations";
export { Keys } from "./Keys";
export { MetersAdmin } from "./MetersAdmin";
export { Settings } from "./Settings";
