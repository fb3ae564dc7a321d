// RouteConfiguration resources (RDS): the type URL. Weir's TCP redirects need no routes yet; the
// constant exists so that push ordering and per-type services know the type.
export const ROUTE_TYPE_URL = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration' as const;
export type RouteTypeUrl = typeof ROUTE_TYPE_URL;
