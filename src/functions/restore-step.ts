/** Queue `restores`: one step of a tracked restore (send the disk import, or look whether it finished). */
import { queueNames } from "../domain/messages";
import { advanceRestore } from "../engine/restores";
import { queueFunction } from "../host/queue";
import { register } from "../host/register";

const definition = register(queueFunction("restoreStep", queueNames.restores, advanceRestore));
export const restoreStepHandler = definition.handler;

export default definition;
