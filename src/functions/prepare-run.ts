/** Queue `run-starts`: takes or picks the SourceSnapshot, sizes the TargetBlob, queues the first CopyStep. */
import { queueNames } from "../domain/messages";
import { prepareRun } from "../engine/prepare";
import { queueFunction } from "../host/queue";
import { register } from "../host/register";

const definition = register(queueFunction("prepareRun", queueNames.runStarts, prepareRun));
export const prepareRunHandler = definition.handler;

export default definition;
