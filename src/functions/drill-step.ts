/** Queue `drills`: one step of a DR drill (see whether its restore ended, or compare the next window). */
import { queueNames } from "../domain/messages";
import { advanceDrill } from "../engine/drills";
import { queueFunction } from "../host/queue";
import { register } from "../host/register";

const definition = register(queueFunction("drillStep", queueNames.drills, advanceDrill));
export const drillStepHandler = definition.handler;

export default definition;
