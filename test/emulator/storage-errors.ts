/** Assertions on the storage errors the stack answers, shared by the blob contract tests. */
import assert from "node:assert/strict";
import { RestError } from "@azure/storage-blob";

/** Asserts the storage error the service would answer: status and x-ms-error-code. */
export async function rejectsWithStorageError(action: Promise<unknown>, status: number, code: string): Promise<void> {
  await assert.rejects(action, (error: unknown) => {
    assert.ok(error instanceof RestError, `expected a RestError, got ${String(error)}`);
    assert.equal(error.statusCode, status);
    assert.equal(error.code, code);
    return true;
  });
}
