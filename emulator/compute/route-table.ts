/**
 * Routing as data: each route is a method, a path template and its handler, and a table finds the route of a
 * request. Paths compare case-insensitively, as ARM's do.
 */

/** One route. `path` is a template such as `/subscriptions/{subscriptionId}/providers/Microsoft.Compute/disks`. */
export interface Route<Handler> {
  /** The HTTP method served, or "*" for every method. */
  method: string;
  /** Literal segments and `{name}` placeholders; a placeholder matches one non-empty segment. */
  path: string;
  handle: Handler;
  /** The path must match as written; by default a trailing slash is tolerated. */
  exact?: boolean;
}

/** A request path that some route serves: the placeholders' values, and the route for the method if there is one. */
export interface PathMatch<Handler> {
  /** The template that matched; every route of the table with this template shares it. */
  path: string;
  /** The placeholders' values as they stand in the path, not decoded. */
  params: Readonly<Record<string, string>>;
  /** Undefined when the path is served, but not with this method (HTTP 405). */
  route?: Route<Handler>;
}

interface CompiledPath<Handler> {
  path: string;
  pattern: RegExp;
  routes: Route<Handler>[];
}

export class RouteTable<Handler> {
  private readonly paths: CompiledPath<Handler>[] = [];

  constructor(routes: readonly Route<Handler>[]) {
    for (const route of routes) {
      const known = this.paths.find((p) => p.path === route.path);
      if (known) known.routes.push(route);
      else this.paths.push({ path: route.path, pattern: compile(route), routes: [route] });
    }
  }

  /** The route serving `method` on `pathname`, or only the path's match (405), or undefined when no route has the path. */
  match(method: string, pathname: string): PathMatch<Handler> | undefined {
    for (const { path, pattern, routes } of this.paths) {
      const m = pattern.exec(pathname);
      if (!m) continue;
      const route = routes.find((r) => r.method === method) ?? routes.find((r) => r.method === "*");
      return { path, params: { ...m.groups }, route };
    }
    return undefined;
  }
}

function compile(route: Route<unknown>): RegExp {
  const source = route.path
    .split(/(\{\w+\})/)
    .map((part) => {
      const placeholder = /^\{(\w+)\}$/.exec(part);
      return placeholder ? `(?<${placeholder[1]}>[^/]+)` : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("");
  return new RegExp(`^${source}${route.exact ? "" : "/?"}$`, "i");
}
