export { GatewayMetrics, type DeferralReason, type DeliveryObservation, type QueueDepth, type SmtpSessionEvent } from './gateway-metrics.ts';
export { EXPOSITION_CONTENT_TYPE, mergeExpositions, type MetricsSnapshot } from './exposition.ts';
