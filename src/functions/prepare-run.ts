/** Queue `run-starts`: takes or picks the SourceSnapshot, sizes the TargetBlob, queues the first CopyStep. */
import { queueNames } from "../adapters/queues";
import { runStartMessageSchema } from "../domain/model";
import { prepareRun } from "../engine/prepare";
import { queueHandler } from "../host/queue";
import { register } from "../host/register";

export const prepareRunHandler = queueHandler(runStartMessageSchema, prepareRun);

export default register({ kind: "queue", name: "prepareRun", queueName: queueNames.runStarts, handler: prepareRunHandler });
