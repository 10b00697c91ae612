/** Queue `schedule-pages`: one unit of a timer tick — the due check, stall nudge, start and drills of its disks. */
import { queueNames } from "../domain/messages";
import type { Deps, Log } from "../engine/deps";
import { schedulePage } from "../engine/scheduler";
import type { SchedulePageMessage } from "../domain/messages";
import { queueFunction } from "../host/queue";
import { register } from "../host/register";

async function scheduleTickPage(deps: Deps, message: SchedulePageMessage, log: Log): Promise<void> {
  const report = await schedulePage(deps, message, log);
  log.info("schedule page", { tickAt: message.tickAt, disks: message.diskKeys.length, started: report.started.length, skipped: report.skipped, nudged: report.nudged.length, drills: report.drills });
}

const definition = register(queueFunction("schedulePage", queueNames.schedulePages, scheduleTickPage));
export const schedulePageHandler = definition.handler;

export default definition;
