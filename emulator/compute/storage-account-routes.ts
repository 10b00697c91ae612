/**
 * ARM's Get of a storage account (`Microsoft.Storage/storageAccounts`, Storage Accounts - Get Properties) for the
 * accounts the stack serves, as far as a client needs to learn where one is: id, name, type, location, kind, sku and
 * its blob endpoint. Served by the resource group route (any date-shaped api-version); create, update, delete and
 * list are not emulated.
 */
import { httpError } from "../error-catalog";
import type { StorageAccountDirectory, StorageAccountRecord } from "../storage-accounts";
import { type ArmCall, sendArm } from "./arm-call";
import type { Route } from "./route-table";

const accountPath = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}/providers/Microsoft.Storage/storageAccounts/{name}";

/** The storage account routes, served beside the resource groups' (the same ARM checks: token, subscription, api-version). */
export function storageAccountRoutes(accounts: StorageAccountDirectory, baseUrl: string): Route<(call: ArmCall) => void>[] {
  return [
    {
      method: "GET",
      path: accountPath,
      handle: ({ params, res }) => {
        const account = accounts.find(params.resourceGroup, params.name);
        if (!account) throw httpError(storageAccountNotFound(params.resourceGroup, params.name));
        sendArm(res, 200, accountJson(account, baseUrl));
      },
    },
  ];
}

/** ARM's answer for an account that does not exist (front door, `Microsoft.Storage/storageAccounts/<name>`). */
function storageAccountNotFound(resourceGroup: string, name: string) {
  return {
    status: 404,
    code: "ResourceNotFound",
    message: `The Resource 'Microsoft.Storage/storageAccounts/${name}' under resource group '${resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  };
}

function accountJson(account: StorageAccountRecord, baseUrl: string): Record<string, unknown> {
  return {
    id: account.id,
    name: account.name,
    type: "Microsoft.Storage/storageAccounts",
    location: account.location,
    kind: "StorageV2",
    sku: { name: account.sku ?? "Standard_LRS", tier: account.sku === "Premium_LRS" ? "Premium" : "Standard" },
    properties: {
      provisioningState: "Succeeded",
      primaryLocation: account.location,
      statusOfPrimary: "available",
      primaryEndpoints: { blob: `${baseUrl.replace(/\/$/, "")}/${account.name}/` },
    },
  };
}
