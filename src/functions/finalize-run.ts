/** Queue `run-finalizations`: blob snapshot, RestorePoint record, new chain base, clean-up and retention. */
import { queueNames } from "../adapters/queues";
import { finalizeMessageSchema } from "../domain/model";
import { finalizeRun } from "../engine/finalize";
import { queueHandler } from "../host/queue";
import { register } from "../host/register";

export const finalizeRunHandler = queueHandler(finalizeMessageSchema, finalizeRun);

export default register({ kind: "queue", name: "finalizeRun", queueName: queueNames.finalizations, handler: finalizeRunHandler });
