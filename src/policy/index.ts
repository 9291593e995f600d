export { routeFor } from './route.ts';
export type { Route, RoutingTable } from './route.ts';
export { atLeast, heldLevel, hostDemand, requireTlsRefusal, strongest } from './link.ts';
export type { HeldLevel, HostDemand, HostSecurity, MessageDemand, ProvenLink } from './link.ts';
export { goesToPickup, isSubmitted, senderAsksPickup, tlsPolicyWithPickup } from './pickup.ts';
export type { PickupRules } from './pickup.ts';
