/** Queue `managed-copies`: one look at a managed run's copy (CopyStart): its progress, its failure, or its RestorePoint. */
import { queueNames } from "../domain/messages";
import { checkManagedCopy } from "../engine/managed-copy";
import { queueFunction } from "../host/queue";
import { register } from "../host/register";

const definition = register(queueFunction("managedCopyCheck", queueNames.managedCopies, checkManagedCopy));
export const managedCopyCheckHandler = definition.handler;

export default definition;
