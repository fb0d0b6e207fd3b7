export { type Baseline, MAD_SCALE, type WindowStats } from "./baseline.js";
export { type AnomalyConfig, type AnomalyConfigInput, AnomalyConfigSchema } from "./config.js";
export type { AnomalyDetectorOptions, AnomalyEvent, AnomalyLevel, ScopeAnomalyState } from "./detector.js";
export { AnomalyDetector } from "./detector.js";
export type { AnomalyMetric, BaselineSource } from "./judge.js";
