/**
 * Timer: fans the tick out — one `schedule-pages` message per page of the disk table — so that the timer's own
 * invocation stays bounded whatever the size of the fleet; workers start the due BackupRuns (schedule-page.ts).
 */
import type { InvocationContext, Timer } from "@azure/functions";
import { getDeps } from "../composition";
import { fanOutSchedule } from "../engine/scheduler";
import { logFor } from "../host/log";
import { register } from "../host/register";

export async function scheduleBackups(_timer: Timer, context: InvocationContext): Promise<void> {
  const report = await fanOutSchedule(getDeps(context), logFor(context));
  logFor(context).info("schedule tick", { tickAt: report.tickAt, messages: report.messages, disks: report.disks, invalid: report.invalid.length });
}

export default register({ kind: "timer", name: "scheduleBackups", schedule: "%DISKDELTA_TIMER_SCHEDULE%", handler: scheduleBackups });
