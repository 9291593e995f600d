export { routeFor } from './route.ts';
export type { Route, RoutingTable } from './route.ts';
export { atLeast, heldLevel, hostDemand, requireTlsRefusal, strongest } from './link.ts';
export type { HeldLevel, HostDemand, HostSecurity, MessageDemand, ProvenLink } from './link.ts';
// goesToPickup and senderPickupRequest are not exported: only decideRoute decides a route.
export { isSubmitted, tlsOrPickupApplies, tlsPolicyWithPickup } from './pickup.ts';
export type { PickupRequest, PickupRules } from './pickup.ts';
export { decideRoute } from './decide.ts';
export type { AttemptFinding, DeliverRoute, EncryptRequest, KeyState, RecipientKeys, RouteDecision, RouteFacts, RouteMessage } from './decide.ts';
