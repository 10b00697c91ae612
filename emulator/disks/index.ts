/**
 * The disk emulator: in-memory managed disks and snapshots behind the ARM compute API, the managed-disk data
 * endpoint behind each accessSAS, and control routes that write to disks as a VM would.
 */
import { BehaviourSettings } from "../behaviour";
import { createResourceGroupRoute } from "../compute/resource-group-routes";
import { createComputeRoute } from "../compute/routes";
import { SasAuthority } from "../dataplane/sas";
import { createSnapshotDataRoute, resolveDataUrl } from "../dataplane/snapshot-data";
import { createUploadRoute } from "../dataplane/upload-data";
import { type DiskEmulator, type DiskEmulatorOptions } from "./api";
import { createControlRoute } from "./control-routes";
import { defaultResourceGroups, ResourceGroupStore } from "./resource-groups";
import { DiskStore } from "./store";

export * from "./api";

export function createDiskEmulator(options: DiskEmulatorOptions): DiskEmulator {
  const store = new DiskStore(options.subscriptionId, options.lroDelayMs ?? 0);
  const sas = new SasAuthority(options.baseUrl);
  const groups = new ResourceGroupStore(options.subscriptionId, options.resourceGroups ?? defaultResourceGroups());
  const behaviour = options.behaviour ?? new BehaviourSettings();
  const routes = [
    createResourceGroupRoute(groups, store, options),
    createComputeRoute(store, groups, sas, options, behaviour),
    createUploadRoute(store, sas),
    createSnapshotDataRoute(store, sas, behaviour),
    createControlRoute(store, groups),
  ];
  return {
    control: store,
    resourceGroups: groups,
    async handle(req, res) {
      const url = new URL(req.url ?? "/", "https://emulator.invalid");
      for (const route of routes) if (await route(req, res, url)) return true;
      return false;
    },
    openSource(url) {
      if (!sas.isOwnOrigin(url) || !sas.isDataPath(url.pathname)) return undefined;
      return resolveDataUrl(store, sas, url).view;
    },
  };
}
