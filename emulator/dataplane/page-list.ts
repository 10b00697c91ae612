/**
 * The wire side of Get Page Ranges, shared by the snapshot data endpoint and the blob proxy: paging with
 * `maxresults` and `marker` (version 2020-10-02 and later), and the `<PageList>` body with its `<NextMarker>`.
 * https://learn.microsoft.com/rest/api/storageservices/get-page-ranges
 */
import type { IncomingHttpHeaders } from "node:http";
import type { EmulatorHttpError } from "../disks/api";
import { httpError, storageErrors } from "../error-catalog";
import { element, xmlDocument } from "../xml";
import type { ListedRange } from "./page-ranges";

/** What one Get Page Ranges request may list: at most `limit` ranges, none starting before `resumeAt`. */
export interface PageListPaging {
  limit: number;
  /** The offset the request's marker continues at; 0 without a marker. */
  resumeAt: number;
  /** The byte range the request asked for, as sent; a marker is valid only for the same range. */
  requestedRange: string;
  /** False for a version before 2020-10-02, which knows no paging: the whole list, and no `<NextMarker>`. */
  paged: boolean;
}

/** One answer's worth of ranges and the marker of the rest, if any. */
export interface PageListPage {
  ranges: ListedRange[];
  nextMarker?: string;
  /** Whether the body carries `<NextMarker>` (PageListPaging's `paged`). */
  paged: boolean;
}

/** The first version whose Get Page Ranges takes `maxresults` and `marker` and answers `<NextMarker>`. */
const pagingVersion = "2020-10-02";

const markerPrefix = "pr1";
const pageBytes = 512;

/** The byte range a Get Page Ranges request lists, as the service reads it: x-ms-range wins over Range. */
export function requestedRange(headers: IncomingHttpHeaders): string {
  const value = headers["x-ms-range"] ?? headers.range;
  return (Array.isArray(value) ? value[0] : value) ?? "";
}

/**
 * Reads `maxresults` and `marker` of a request. An answer holds at most min(maxresults, cap) ranges, `cap`
 * being the service's 10,000 unless a test lowered it. Throws 400 InvalidQueryParameterValue for a maxresults
 * that is not a positive integer and for a marker this emulator did not hand out for the same byte range. A request
 * of a version before 2020-10-02 (`x-ms-version`) is not paged: its answer is the whole list, as then.
 */
export function pageListPaging(url: URL, headers: IncomingHttpHeaders, cap: number): PageListPaging {
  const range = requestedRange(headers);
  const version = headers["x-ms-version"];
  if (typeof version === "string" && version < pagingVersion) return { limit: Infinity, resumeAt: 0, requestedRange: range, paged: false };
  const maxResults = url.searchParams.get("maxresults");
  const marker = url.searchParams.get("marker");
  return {
    limit: Math.min(cap, maxResults === null ? cap : parseMaxResults(maxResults)),
    resumeAt: marker === null || marker === "" ? 0 : parseMarker(marker, range),
    requestedRange: range,
    paged: true,
  };
}

/**
 * Takes the answer's ranges from a listing in offset order: those from `resumeAt` on, at most `limit`, whole
 * (a range is never split across answers). Reads one range past the page to know whether the list goes on;
 * the marker then names that range's start.
 */
export function takePage(listing: Iterable<ListedRange>, paging: PageListPaging): PageListPage {
  const ranges: ListedRange[] = [];
  for (const range of listing) {
    if (range.start < paging.resumeAt) continue;
    if (ranges.length === paging.limit) return { ranges, nextMarker: encodeMarker(range.start, paging.requestedRange), paged: true };
    ranges.push(range);
  }
  return { ranges, paged: paging.paged };
}

/**
 * The Get Page Ranges body: ranges interleaved in offset order with inclusive ends, then `<NextMarker>` with the
 * continuation, or empty (`<NextMarker />`) when the list is complete, as the service writes it since 2020-10-02
 * (before, the body ends with the ranges).
 */
export function pageListXml(page: PageListPage): string {
  const ranges = page.ranges.map((r) =>
    element(r.kind === "page" ? "PageRange" : "ClearRange", [element("Start", r.start), element("End", r.end - 1)]),
  );
  return xmlDocument(element("PageList", page.paged ? [...ranges, element("NextMarker", page.nextMarker)] : ranges));
}

/** The ranges of a `<PageList>` body (Azurite's), in document order, ends made exclusive. */
export function parsePageListXml(xml: string): ListedRange[] {
  const ranges: ListedRange[] = [];
  for (const m of xml.matchAll(/<(PageRange|ClearRange)>\s*<Start>(\d+)<\/Start>\s*<End>(\d+)<\/End>\s*<\/\1>/g)) {
    ranges.push({ kind: m[1] === "PageRange" ? "page" : "clear", start: Number(m[2]), end: Number(m[3]) + 1 });
  }
  return ranges;
}

function parseMaxResults(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw invalidQueryParameter("maxresults", value, "maxresults must be a positive integer.");
  }
  return n;
}

/** The marker is the next range's start and the requested range, so it continues only the listing it came from. */
function encodeMarker(resumeAt: number, range: string): string {
  return Buffer.from(`${markerPrefix}:${resumeAt}:${range}`, "utf8").toString("base64url");
}

function parseMarker(marker: string, range: string): number {
  const m = /^([^:]*):(\d+):(.*)$/s.exec(Buffer.from(marker, "base64url").toString("utf8"));
  const resumeAt = Number(m?.[2]);
  if (!m || m[1] !== markerPrefix || !Number.isSafeInteger(resumeAt) || resumeAt % pageBytes !== 0) {
    throw invalidQueryParameter("marker", marker, "The marker was not returned by an earlier Get Page Ranges.");
  }
  if (m[3] !== range) {
    throw invalidQueryParameter("marker", marker, "The marker belongs to a listing of another byte range.");
  }
  return resumeAt;
}

function invalidQueryParameter(name: string, value: string, reason: string): EmulatorHttpError {
  return httpError(storageErrors.invalidQueryParameterValue, { QueryParameterName: name, QueryParameterValue: value, Reason: reason });
}
