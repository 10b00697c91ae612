/**
 * A deliberately broken copy, to show that the integrity property catches one: the classic off-by-one of an
 * inclusive/exclusive range end, where Put Page From URL leaves out the last page of every range it copies.
 */
import type { Deps } from "../../src/engine/deps";
import { PAGE_BYTES } from "../../src/domain/ranges";

export function dropLastPageOfEachCopy(deps: Deps): Deps {
  return {
    ...deps,
    targets: (location) => {
      const target = deps.targets(location);
      return {
        ...target,
        copyFromUrl: async (sourceUrl, range, lease) => {
          if (range.end - range.start > PAGE_BYTES) await target.copyFromUrl(sourceUrl, { start: range.start, end: range.end - PAGE_BYTES }, lease);
        },
      };
    },
  };
}
