/** Queue `copy-steps`: one bounded CopyStep of a BackupRun. */
import { queueNames } from "../domain/messages";
import { runCopyStep } from "../engine/copy-step";
import { queueFunction } from "../host/queue";
import { register } from "../host/register";

const definition = register(queueFunction("copyStep", queueNames.copySteps, runCopyStep));
export const copyStepHandler = definition.handler;

export default definition;
