/** Where a ProtectedDisk's TargetBlob lives, and how a RestorePoint's blob URL names that place. */

/** Where a ProtectedDisk's TargetBlob lives. */
export interface TargetLocation {
  readonly blobEndpoint: string;
  readonly container: string;
  readonly blobName: string;
}

/** Splits a blob URL (no query) into endpoint, container and blob name; IP-style hosts carry the account in the path. */
export function locationFromUrl(blobUrl: string): TargetLocation {
  const url = new URL(blobUrl);
  const segments = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  const ipStyle = /^(\d+\.\d+\.\d+\.\d+|localhost|\[.*\])$/.test(url.hostname);
  const accountSegments = ipStyle ? 1 : 0;
  const endpointPath = segments.slice(0, accountSegments).map(encodeURIComponent).join("/");
  return {
    blobEndpoint: `${url.protocol}//${url.host}${endpointPath ? `/${endpointPath}` : ""}`,
    container: segments[accountSegments],
    blobName: segments.slice(accountSegments + 1).join("/"),
  };
}
