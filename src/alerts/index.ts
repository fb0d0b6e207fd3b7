export type { AlertEvent, AlertFormat, AlertKind, AnomalyDetail } from "./format.js";
export { alertBody, alertId, signAlert, verifyAlertSignature } from "./format.js";
export type { AlertSenderOptions, AlertTarget, DeliveryResult } from "./sender.js";
export { AlertSender } from "./sender.js";
