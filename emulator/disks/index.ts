/**
 * The disk emulator: in-memory managed disks and snapshots behind the ARM compute API, the managed-disk data
 * endpoint behind each accessSAS, and control routes that write to disks as a VM would.
 */
import { BehaviourSettings, isRegionDown, type RegionCheck } from "../behaviour";
import { createResourceGroupRoute } from "../compute/resource-group-routes";
import { createComputeRoute } from "../compute/routes";
import { StorageAccountDirectory } from "../storage-accounts";
import { SasAuthority } from "../dataplane/sas";
import { createSnapshotDataRoute, etagOf, lastModifiedOf, resolveDataUrl, servedResource } from "../dataplane/snapshot-data";
import { createUploadRoute } from "../dataplane/upload-data";
import { SourceUnreachableError, type DiskEmulator, type DiskEmulatorOptions } from "./api";
import { createControlRoute } from "./control-routes";
import { defaultResourceGroups, ResourceGroupStore } from "./resource-groups";
import { DiskStore } from "./store";
import { VirtualMachineStore } from "./virtual-machines";

export * from "./api";

export function createDiskEmulator(options: DiskEmulatorOptions): DiskEmulator {
  const store = new DiskStore(options.subscriptionId, options.lroDelayMs ?? 0, {
    bytesPerSecond: options.snapshotCopyBytesPerSecond,
    maxInFlightPerRegion: options.maxSnapshotCopiesPerRegion,
  });
  const sas = new SasAuthority(options.baseUrl);
  const groups = new ResourceGroupStore(options.subscriptionId, options.resourceGroups ?? defaultResourceGroups());
  const behaviour = options.behaviour ?? new BehaviourSettings();
  const vms = new VirtualMachineStore(options.subscriptionId, store, groups);
  const accounts = new StorageAccountDirectory(options.subscriptionId, options.storageAccounts ?? []);
  const inRegionDown: RegionCheck = (resource) => isRegionDown(behaviour, resource.location, groups.find(resource.resourceGroup)?.location);
  const routes = [
    createResourceGroupRoute(groups, store, options, vms, accounts),
    createComputeRoute(store, groups, sas, options, behaviour, vms, accounts),
    createUploadRoute(store, sas, inRegionDown),
    createSnapshotDataRoute(store, sas, behaviour, inRegionDown),
    createControlRoute(store, groups, vms),
  ];
  return {
    control: store,
    resourceGroups: groups,
    virtualMachines: vms,
    async handle(req, res) {
      const url = new URL(req.url ?? "/", "https://emulator.invalid");
      for (const route of routes) if (await route(req, res, url)) return true;
      return false;
    },
    openSource(url) {
      if (!sas.isOwnOrigin(url) || !sas.isDataPath(url.pathname)) return undefined;
      const served = resolveDataUrl(store, sas, url);
      const resource = servedResource(served);
      if (inRegionDown(resource)) throw new SourceUnreachableError(resource.location);
      const { view } = served;
      return { sizeBytes: view.sizeBytes, read: (offset, length) => view.read(offset, length), etag: etagOf(served), lastModifiedMs: lastModifiedOf(served) };
    },
  };
}
