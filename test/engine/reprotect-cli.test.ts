/**
 * Unprotect and protect again with the compiled `diskdelta` CLI, as an operator would: `restore-points` names the
 * kept RestorePoints, `restore` of one succeeds, `protect` again is refused (exit 1) naming `--adopt` and
 * `--blob-name`, and `protect --adopt` says what it adopted and that retention applies to it from now on.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { diskKeyOf } from "../../src/domain/model";
import { GiB, MiB, useTestApp } from "../support/app";
import { useCliAgainst } from "../support/cli-process";
import { assertRestoredContent } from "../support/restored";

describe("unprotect and protect again with the CLI", () => {
  const app = useTestApp();
  const { cli, succeeds } = useCliAgainst(app);

  it("when a disk is unprotected and protected again, then its kept RestorePoints are listed and restored, and protect asks for --adopt or --blob-name", async () => {
    const { stack } = app();
    const diskId = await app().createDisk("disk-cli-kept", GiB);
    stack.disks.writeSeeded(diskId, 0, 2 * MiB, 3);
    const diskKey = diskKeyOf(diskId);
    const target = ["--target-endpoint", stack.target.blobEndpoint, "--container", "backups", "--storage-account-id", stack.target.resourceId];
    await succeeds("protect", diskId, ...target);
    await succeeds("sync", diskKey, "--wait", "--interval", "0.2", "--timeout", "120");
    stack.disks.writeSeeded(diskId, 300 * MiB, 1 * MiB, 4);
    await succeeds("sync", diskKey, "--wait", "--interval", "0.2", "--timeout", "120");
    await succeeds("unprotect", diskKey);

    const points = await app().restorePoints(diskKey);
    assert.equal(points.length, 2);
    const listing = await succeeds("restore-points", diskKey);
    assert.match(listing, new RegExp(`Kept \\(disk ${diskKey} is not protected; .*\\): ${points.map((p) => p.restorePointId).join(", ")}`));

    await succeeds("restore", diskKey, points[0].restorePointId, "--name", "disk-cli-kept-restored", "--resource-group", "rg-cli-restore", "--location", stack.target.location, "--interval", "0.2");
    const restored = await app().compute.disks.get("rg-cli-restore", "disk-cli-kept-restored");
    // The newest: its SourceSnapshot is still there to compare with.
    await assertRestoredContent(app(), restored.id!, points[0], "check-cli-kept");

    const refused = await cli("protect", diskId, ...target);
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stderr, /KeptRestorePoints/);
    assert.match(refused.stderr, /--adopt/);
    assert.match(refused.stderr, /--blob-name/);

    const adopted = await succeeds("protect", diskId, ...target, "--adopt", "--keep-last", "5");
    assert.match(adopted, /Adopted 2 RestorePoint\(s\) and the TargetBlob \S+backups\/disk-cli-kept-\S+\.vhd: its RetentionPolicy applies to them from now on\./);
    assert.doesNotMatch(await succeeds("restore-points", diskKey), /Kept/);
  });
});
