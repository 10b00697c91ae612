/** The app's tables emptied, as a new app (in another region) finds them: no ProtectedDisk, no run, no RestorePoint. */
import { TableClient } from "@azure/data-tables";
import { tableNames } from "../../src/adapters/tables";
import type { StackEndpoints } from "../../emulator/stack";

export async function emptyAppTables(stack: StackEndpoints): Promise<void> {
  for (const name of Object.values(tableNames)) {
    const table = TableClient.fromConnectionString(stack.appStorage.connectionString, name, { allowInsecureConnection: true });
    for await (const entity of table.listEntities()) await table.deleteEntity(String(entity.partitionKey), String(entity.rowKey));
  }
}
