/** Azure region names as ARM compares them. */

/** True for the same region: ARM compares names ignoring case and spaces ("West Europe" is westeurope). */
export function sameRegion(a: string, b: string): boolean {
  return normalizedRegion(a) === normalizedRegion(b);
}

function normalizedRegion(location: string): string {
  return location.replace(/\s+/g, "").toLowerCase();
}
