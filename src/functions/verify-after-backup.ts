/** Queue `restore-point-verifications`: verifies a new RestorePoint and keeps its checksums (verifyAfterBackup). */
import { queueNames } from "../domain/messages";
import { verifyAfterBackup } from "../engine/verify-restore-point";
import { queueFunction } from "../host/queue";
import { register } from "../host/register";

const definition = register(queueFunction("verifyAfterBackup", queueNames.verifications, verifyAfterBackup));
export const verifyAfterBackupHandler = definition.handler;

export default definition;
