/** Queue `restore-point-verifications`: verifies a new RestorePoint and keeps its checksums (verifyAfterBackup). */
import { queueNames } from "../adapters/queues";
import { verifyMessageSchema } from "../domain/model";
import { verifyAfterBackup } from "../engine/verify-restore-point";
import { queueHandler } from "../host/queue";
import { register } from "../host/register";

export const verifyAfterBackupHandler = queueHandler(verifyMessageSchema, verifyAfterBackup);

export default register({ kind: "queue", name: "verifyAfterBackup", queueName: queueNames.verifications, handler: verifyAfterBackupHandler });
