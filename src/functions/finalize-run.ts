/** Queue `run-finalizations`: blob snapshot, RestorePoint record, new chain base, clean-up and retention. */
import { queueNames } from "../domain/messages";
import { finalizeRun } from "../engine/finalize";
import { queueFunction } from "../host/queue";
import { register } from "../host/register";

const definition = register(queueFunction("finalizeRun", queueNames.finalizations, finalizeRun));
export const finalizeRunHandler = definition.handler;

export default definition;
