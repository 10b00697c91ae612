/**
 * Review of protect-vm over a disk with kept RestorePoints: protect-vm refuses the set when one of its disks was
 * protected before and the caller did not say what becomes of its chain (409 naming --adopt). A refused request
 * protects nothing — no disk of the set is left protected alone, outside what the caller asked for.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { diskKeyOf } from "../../src/domain/model";
import { GiB, MiB, resourceGroup, useTestApp } from "../support/app";

describe("review: protect-vm over a disk whose RestorePoints are kept", () => {
  const app = useTestApp();
  const target = () => ({ blobEndpoint: app().stack.target.blobEndpoint, container: "backups", storageAccountId: app().stack.target.resourceId });

  it("when one disk of the VM has kept RestorePoints and adopt is not given, then protect-vm answers 409 and protects none of the VM's disks", async () => {
    const { stack } = app();
    const osId = (await app().compute.disks.createOrUpdate(resourceGroup, "vm-review-os", { location: stack.arm.location, diskSizeGB: 1, osType: "Linux", creationData: { createOption: "Empty" } }, { updateIntervalInMs: 10 })).id!;
    const dataId = await app().createDisk("vm-review-data", 1 * GiB);
    stack.disks.writeSeeded(dataId, 2 * MiB, 2 * MiB, 61);
    const dataKey = await app().protect(dataId, { target: target() });
    await app().sync(dataKey);
    const [point] = await app().restorePoints(dataKey);
    assert.equal((await app().verify(point)).equal, true);
    assert.equal((await app().host.invokeHttp("DELETE", `/api/disks/${dataKey}`)).status, 200);
    const vm = await stack.createVirtualMachine({ resourceGroup, name: "vm-review", osDiskId: osId, dataDisks: [{ lun: 0, diskId: dataId }] });

    const refused = await app().host.invokeHttp("POST", "/api/vms", { vmId: vm.id, target: target() });
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.match(JSON.stringify(refused.body), /KeptRestorePoints.*--adopt/);
    assert.equal((await app().host.invokeHttp("GET", `/api/disks/${diskKeyOf(osId)}`)).status, 404, "the OS disk is not protected alone by a refused protect-vm");

    const adopted = await app().host.invokeHttp("POST", "/api/vms", { vmId: vm.id, target: target(), adopt: true });
    assert.equal(adopted.status, 201, JSON.stringify(adopted.body));
    assert.deepEqual((await app().restorePoints(dataKey)).map((p) => p.restorePointId), [point.restorePointId], "the kept RestorePoint is under the set");
    assert.equal((await app().verify(point)).equal, true, "and still equals its SourceSnapshot");
  });
});
