/** Queue `copy-steps`: one bounded CopyStep of a BackupRun. */
import { queueNames } from "../adapters/queues";
import { copyStepMessageSchema } from "../domain/model";
import { runCopyStep } from "../engine/copy-step";
import { queueHandler } from "../host/queue";
import { register } from "../host/register";

export const copyStepHandler = queueHandler(copyStepMessageSchema, runCopyStep);

export default register({ kind: "queue", name: "copyStep", queueName: queueNames.copySteps, handler: copyStepHandler });
