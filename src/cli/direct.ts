/**
 * The CLI's direct mode (`--target-account`): RestorePoints listed and restored from the target storage account
 * alone, through the manifests beside each TargetBlob, with the operator's own credentials. For when the app and its
 * tables are unreachable: the source region is down.
 */
import { z } from "zod";
import type { OperatorPorts } from "../composition";
import { PermanentError } from "../domain/errors";
import { diskKeyOf } from "../domain/model";
import { restoreFromManifest, restoreRequestSchema } from "../engine/restore";
import { restoreVmFromManifests, vmRestoreRequestSchema } from "../engine/vm-restore";
import { UsageError, type DirectCommand } from "./args";
import { type Outcome, exitCodes } from "./commands";
import { formatCatalog, formatDirectVmRestore, formatRestore } from "./format";

export async function runDirectCommand(command: DirectCommand, ports: OperatorPorts): Promise<Outcome> {
  switch (command.name) {
    case "direct restore-points": {
      const listing = await ports.catalog.list(command.target);
      const diskKey = command.disk === undefined ? undefined : diskKeyOfArgument(command.disk);
      const answer = { ...listing, restorePoints: listing.restorePoints.filter((point) => diskKey === undefined || point.diskKey === diskKey) };
      return { data: answer, text: formatCatalog(answer), exitCode: exitCodes.ok };
    }
    case "direct restore": {
      const request = restoreRequestSchema.safeParse(command.body);
      if (!request.success) throw new UsageError(`the restore options are invalid: ${z.prettifyError(request.error).replace(/\n\s*/g, "; ")}`, "restore");
      const { restorePointId, diskKey } = command;
      const listing = await ports.catalog.list({ ...command.target, restorePointId });
      const found = listing.restorePoints.find((point) => point.diskKey === diskKey);
      if (!found) {
        const broken = listing.problems.map((p) => `; its manifest ${p.blob} cannot be used: ${p.problem}`).join("");
        throw new PermanentError("RestorePointNotFound", `no RestorePoint ${restorePointId} of disk ${diskKey} in ${where(command.target)}${broken}`);
      }
      const { dataPresent, ...manifest } = found;
      if (!dataPresent) {
        throw new PermanentError(
          "RestorePointDataGone",
          `RestorePoint ${restorePointId} of disk ${diskKey} has a manifest, but its blob snapshot ${manifest.target.blobName}?snapshot=${manifest.target.snapshot} is not in ${where(command.target)}`,
        );
      }
      const result = await restoreFromManifest(ports, manifest, request.data);
      return { data: result, text: formatRestore(result), exitCode: exitCodes.ok };
    }
    case "direct restore-vm": {
      const request = vmRestoreRequestSchema.safeParse(command.body);
      if (!request.success) throw new UsageError(`the restore options are invalid: ${z.prettifyError(request.error).replace(/\n\s*/g, "; ")}`, "restore-vm");
      const listing = await ports.catalog.list(command.target);
      const result = await restoreVmFromManifests(ports, listing.restorePoints, command.vmKey, request.data);
      return { data: result, text: formatDirectVmRestore(result, request.data), exitCode: exitCodes.ok };
    }
  }
}

/** `--disk` takes a diskKey (16 hex digits) or the disk's resource id, whose key it is. */
function diskKeyOfArgument(disk: string): string {
  return /^[0-9a-f]{16}$/i.test(disk) ? disk.toLowerCase() : diskKeyOf(disk);
}

function where(target: DirectCommand["target"]): string {
  return target.container ? `container ${target.container} of ${target.blobEndpoint}` : target.blobEndpoint;
}
