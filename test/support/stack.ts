/**
 * Test helpers around the local stack. In a `describe`, `const stack = useTestStack()` starts one stack
 * before the suite's tests and stops it after them; `stack()` returns it.
 */
import { after, before } from "node:test";
import { ComputeManagementClient } from "@azure/arm-compute";
import {
  BlobSASPermissions,
  BlobServiceClient,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
  type BlobClient,
  type StoragePipelineOptions,
} from "@azure/storage-blob";
import { devAccount } from "../../emulator/azurite";
import { startLocalStack, type LocalStack, type LocalStackOptions, type StackEndpoints } from "../../emulator/stack";

/** Starts a stack for the current suite; the returned function gives it to tests and hooks. */
export function useTestStack(options?: LocalStackOptions): () => LocalStack {
  let stack: LocalStack | undefined;
  before(async () => {
    stack = await startLocalStack(options);
  });
  after(async () => {
    await stack?.stop();
  });
  return () => {
    if (!stack) throw new Error("the local stack is not started yet: use it inside tests or hooks");
    return stack;
  };
}

/** SDK retries as in production, only with short delays so tests stay quick. */
export const quickRetries: StoragePipelineOptions = {
  retryOptions: { maxTries: 6, retryDelayInMs: 20, maxRetryDelayInMs: 200 },
};

/** A client for the target storage account, through the blob proxy, signed with the account key. */
export function targetBlobService(stack: StackEndpoints, options: StoragePipelineOptions = quickRetries): BlobServiceClient {
  const credential = new StorageSharedKeyCredential(stack.target.accountName, stack.target.accountKey);
  return new BlobServiceClient(stack.target.blobEndpoint, credential, options);
}

/** A client for the app's storage account, straight to Azurite. */
export function appBlobService(stack: StackEndpoints): BlobServiceClient {
  return BlobServiceClient.fromConnectionString(stack.appStorage.connectionString, quickRetries);
}

/** The ARM compute client pointed at the disk emulator. */
export function computeClient(stack: StackEndpoints): ComputeManagementClient {
  return new ComputeManagementClient(stack.arm.credential, stack.arm.subscriptionId, { endpoint: stack.arm.endpoint });
}

/** A read SAS URL for a blob in the app's (development) account, valid for an hour. */
export function devAccountReadSasUrl(blob: BlobClient): string {
  const sas = generateBlobSASQueryParameters(
    {
      containerName: blob.containerName,
      blobName: blob.name,
      permissions: BlobSASPermissions.parse("r"),
      expiresOn: new Date(Date.now() + 3600_000),
    },
    new StorageSharedKeyCredential(devAccount.name, devAccount.key),
  );
  return `${blob.url}?${sas.toString()}`;
}
