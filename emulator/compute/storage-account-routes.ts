/**
 * ARM's Get of a storage account (`Microsoft.Storage/storageAccounts`, Storage Accounts - Get Properties) for the
 * accounts the stack serves, as far as a client needs to learn where one is: id, name, type, location, kind, sku and
 * its blob endpoint. Any date-shaped api-version is served; create, update, delete and list are not emulated.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { armErrors, httpError } from "../error-catalog";
import type { StorageAccountDirectory, StorageAccountRecord } from "../storage-accounts";
import { answerArmError, checkAuthorization, decodeNames, sendArm } from "./arm-call";
import { RouteTable } from "./route-table";

const accountPath = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}/providers/Microsoft.Storage/storageAccounts/{name}";

/** Serves the storage account route; answers false for other paths. */
export function createStorageAccountRoute(
  accounts: StorageAccountDirectory,
  options: { readonly subscriptionId: string; readonly baseUrl: string },
): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean> {
  const routes = new RouteTable<(params: Readonly<Record<string, string>>, res: ServerResponse) => void>([
    {
      method: "GET",
      path: accountPath,
      handle: (params, res) => {
        const account = accounts.find(params.resourceGroup, params.name);
        if (!account) throw httpError(storageAccountNotFound(params.resourceGroup, params.name));
        sendArm(res, 200, accountJson(account, options.baseUrl));
      },
    },
  ]);
  return async (req, res, url) => {
    const method = req.method ?? "GET";
    const match = routes.match(method, url.pathname);
    if (!match) return false;
    const params = decodeNames(match.params);
    try {
      checkAuthorization(req);
      const version = url.searchParams.get("api-version");
      if (!version) throw httpError(armErrors.missingApiVersion);
      if (!/^\d{4}-\d{2}-\d{2}(-preview)?$/.test(version)) throw httpError(armErrors.invalidApiVersion(version));
      if (params.subscriptionId.toLowerCase() !== options.subscriptionId.toLowerCase()) throw httpError(armErrors.subscriptionNotFound(params.subscriptionId));
      if (!match.route) throw httpError(armErrors.methodNotAllowed(method));
      match.route.handle(params, res);
    } catch (error) {
      answerArmError(res, error);
    }
    return true;
  };
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
    sku: { name: "Standard_LRS", tier: "Standard" },
    properties: {
      provisioningState: "Succeeded",
      primaryLocation: account.location,
      statusOfPrimary: "available",
      primaryEndpoints: { blob: `${baseUrl.replace(/\/$/, "")}/${account.name}/` },
    },
  };
}
