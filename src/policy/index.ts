export { routeFor } from './route.ts';
export type { Route, RoutingTable } from './route.ts';
export { effectiveTlsPolicy } from './tls.ts';
