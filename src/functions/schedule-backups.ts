/** Timer: starts a BackupRun for every ProtectedDisk that is due (each disk has its own schedule). */
import type { InvocationContext, Timer } from "@azure/functions";
import { getDeps } from "../composition";
import { scheduleDueBackups } from "../engine/scheduler";
import { logFor } from "../host/log";
import { register } from "../host/register";

export async function scheduleBackups(_timer: Timer, context: InvocationContext): Promise<void> {
  const report = await scheduleDueBackups(getDeps(context), logFor(context));
  logFor(context).info("schedule tick", { started: report.started.length, skipped: report.skipped, invalid: report.invalid.length, nudged: report.nudged.length, drills: report.drills });
}

export default register({ kind: "timer", name: "scheduleBackups", schedule: "%DISKDELTA_TIMER_SCHEDULE%", handler: scheduleBackups });
