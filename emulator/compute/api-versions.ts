/**
 * The api-versions ARM serves for Microsoft.Compute `disks`, `snapshots` and `locations/DiskOperations`: every
 * stable DiskRP version (folders of azure-rest-api-specs
 * `specification/compute/resource-manager/Microsoft.Compute/DiskRP/stable/`). ARM keeps serving old versions, so
 * clients pinned to one (azure-mgmt-compute 29 calls 2022-07-02) keep working; the emulator answers every version
 * with the same shapes, those of 2025-01-02.
 */
import { EmulatorHttpError } from "../disks/api";
import { armErrors, httpError } from "../error-catalog";

/** Newest first, as ARM's "supported api-versions" lists usually read. */
export const diskApiVersions: readonly string[] = [
  "2025-01-02",
  "2024-03-02",
  "2023-10-02",
  "2023-04-02",
  "2023-01-02",
  "2022-07-02",
  "2022-03-02",
  "2021-12-01",
  "2021-08-01",
  "2021-04-01",
  "2020-12-01",
  "2020-09-30",
  "2020-06-30",
  "2020-05-01",
  "2019-11-01",
  "2019-07-01",
  "2019-03-01",
  "2018-09-30",
  "2018-06-01",
  "2018-04-01",
  "2017-03-30",
];


/**
 * The api-versions served for `virtualMachines` (ComputeRP, not DiskRP): 2026-03-01 is the one `@azure/arm-compute`
 * 24.1 sends; the older ones are ComputeRP stable folders as far as the emulator knows them (2015-06-15 … 2018-04-01
 * seen in azure-rest-api-specs' index; the later ones assumed). Served with the same answers.
 */
export const virtualMachineApiVersions: readonly string[] = [
  "2026-03-01",
  "2025-04-01",
  "2024-11-01",
  "2024-07-01",
  "2024-03-01",
  "2023-09-01",
  "2023-07-01",
  "2023-03-01",
  "2022-11-01",
  "2022-08-01",
  "2022-03-01",
  "2021-11-01",
  "2021-07-01",
  "2021-04-01",
  "2021-03-01",
  "2020-12-01",
  "2020-06-01",
  "2019-12-01",
  "2019-07-01",
  "2019-03-01",
  "2018-10-01",
  "2018-06-01",
  "2018-04-01",
  "2017-12-01",
  "2017-03-30",
  "2016-03-30",
  "2015-06-15",
];

/** The ARM resource type named in NoRegisteredProviderFound, e.g. "disks" or "locations/DiskOperations". */
export type DiskResourceType = "disks" | "snapshots" | "locations/DiskOperations" | "virtualMachines";

/**
 * The request's api-version when ARM would serve it. A missing one is 400 MissingApiVersionParameter; one that is
 * not registered for the type is 400 NoRegisteredProviderFound with ARM's message, which names the location, the
 * version, the type and the registered versions. (InvalidApiVersionParameter is what ARM's own resource types —
 * resource groups, deployments — answer; a resource provider's types answer NoRegisteredProviderFound.)
 */
export function servedApiVersion(url: URL, type: DiskResourceType, location: string): string {
  const version = url.searchParams.get("api-version");
  if (!version) throw httpError(armErrors.missingApiVersion);
  const registered = type === "virtualMachines" ? virtualMachineApiVersions : diskApiVersions;
  if (!registered.includes(version)) {
    throw new EmulatorHttpError(
      400,
      "NoRegisteredProviderFound",
      `No registered resource provider found for location '${location}' and API version '${version}' for type ` +
        `'${type}'. The supported api-versions are '${registered.join(", ")}'. The supported locations are '${location}'.`,
    );
  }
  return version;
}
