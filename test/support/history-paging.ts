/**
 * Evidence that a history with a capped Get Page Ranges answer really was paged: the worker's range listings
 * (diffs and allocated ranges of SourceSnapshots, ranges of blob snapshots) that returned more ranges than one
 * answer may hold, and so followed at least one continuation marker.
 */
import type { Deps } from "../../src/engine/deps";

/** Counts listings longer than `cap` ranges made through the wrapped Deps. */
export interface PagingCounter {
  wrap(deps: Deps): Deps;
  readonly pagedListings: () => number;
}

export function countPagedListings(cap: number): PagingCounter {
  let paged = 0;
  const seen = <T>(ranges: T[]): T[] => {
    if (ranges.length > cap) paged += 1;
    return ranges;
  };
  return {
    wrap: (deps) => ({
      ...deps,
      source: {
        ...deps.source,
        async diff(sasUrl, baseSasUrl, window) {
          const diff = await deps.source.diff(sasUrl, baseSasUrl, window);
          seen([...diff.changed, ...diff.cleared]);
          return diff;
        },
        allocated: async (sasUrl, window) => seen(await deps.source.allocated(sasUrl, window)),
      },
      targets: (location) => {
        const target = deps.targets(location);
        return { ...target, snapshotRanges: async (snapshot, window) => seen(await target.snapshotRanges(snapshot, window)) };
      },
    }),
    pagedListings: () => paged,
  };
}
