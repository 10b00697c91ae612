/** Errors: permanent versus transient, and secret-free descriptions of any failure. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PermanentError, codeOf, describeError, isPermanent, redact, statusOf } from "../../src/domain/errors";

/** The shape of an SDK RestError as far as diskdelta reads it. */
function restError(statusCode: number, code: string, message: string, errorCode?: string): Error {
  return Object.assign(new Error(message), { name: "RestError", statusCode, code, details: errorCode ? { errorCode } : undefined });
}

describe("redact", () => {
  const cases: { name: string; text: string; secrets: string[]; kept: string[] }[] = [
    {
      name: "when text holds a managed-disk SAS URL, then its signature and SAS fields are removed and the path stays",
      text: "GET https://md-hdd-abc.z22.blob.storage.azure.net/x0y1/abcd?sv=2018-03-28&sr=b&si=4b2c&sig=AbC%2Bdef%3D&se=2026-01-01T00%3A00Z failed",
      secrets: ["AbC%2Bdef", "4b2c"],
      kept: ["https://md-hdd-abc.z22.blob.storage.azure.net/x0y1/abcd?", "sig=REDACTED", " failed"],
    },
    {
      name: "when text holds a SAS URL quoted in JSON, then the quote ends the redaction",
      text: '{"url":"https://acct.blob.core.windows.net/c/b?sp=r&sig=s3cr3t"}',
      secrets: ["s3cr3t"],
      kept: ['sig=REDACTED"}'],
    },
    {
      name: "when a SAS URL is percent-encoded inside another URL, then its signature is removed",
      text: "source https%3A%2F%2Facct%2Fc%2Fb%3Fsv%3D2020%26sig%3Ds3cr3t%252B%26se%3D2026 refused",
      secrets: ["s3cr3t"],
      kept: ["%26sig%3DREDACTED%26se%3D2026 refused"],
    },
    {
      name: "when text holds a connection string, then AccountKey and SharedAccessSignature are removed",
      text: "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=Zm9v+YmFy/==;EndpointSuffix=core.windows.net; BlobEndpoint=https://a/;SharedAccessSignature=sv=2020&sig=xyz",
      secrets: ["Zm9v+YmFy/==", "xyz"],
      kept: ["AccountName=acct;AccountKey=REDACTED;EndpointSuffix=core.windows.net", "SharedAccessSignature=REDACTED"],
    },
    {
      name: "when text holds an Authorization header with a Bearer token, then the token is removed",
      text: "Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln\nnext line",
      secrets: ["eyJhbGciOiJSUzI1NiJ9"],
      kept: ["Authorization: Bearer REDACTED", "next line"],
    },
    {
      name: "when headers are serialized as JSON, then the Bearer token is removed",
      text: '{"authorization":"Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln","x-ms-version":"2025-01-05"}',
      secrets: ["eyJhbGciOiJSUzI1NiJ9"],
      kept: ['"authorization":"Bearer REDACTED"', '"x-ms-version":"2025-01-05"'],
    },
    {
      name: "when text holds a Shared Key signature, then it is removed",
      text: "Authorization: SharedKey acct:c2lnbmF0dXJl",
      secrets: ["c2lnbmF0dXJl"],
      kept: ["Authorization: SharedKey REDACTED"],
    },
    {
      name: "when a URL carries user:password@, then the password is removed and the user, host and port stay",
      text: "endpoint https://ops:s3cr3t@backupweu.blob.core.windows.net:443/c and https://host:8443/x",
      secrets: ["s3cr3t"],
      kept: ["https://ops:REDACTED@backupweu.blob.core.windows.net:443/c", "https://host:8443/x"],
    },
    {
      name: "when text holds no secret, then it is unchanged",
      text: "disk 0123456789abcdef: snapshot snap-1 is gone; signature checks are fine",
      secrets: [],
      kept: ["disk 0123456789abcdef: snapshot snap-1 is gone; signature checks are fine"],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const out = redact(c.text);
      for (const secret of c.secrets) assert.ok(!out.includes(secret), `${secret} left in ${out}`);
      for (const part of c.kept) assert.ok(out.includes(part), `${part} missing from ${out}`);
    });
  }
});

describe("isPermanent", () => {
  const cases: { name: string; error: unknown; permanent: boolean }[] = [
    { name: "when a PermanentError is thrown, then it is permanent", error: new PermanentError("DiskGone", "gone"), permanent: true },
    ...[400, 403, 404].map((status) => ({ name: `when the service answers ${status}, then it is permanent`, error: restError(status, "X", "x"), permanent: true })),
    ...[408, 409, 412, 429, 500, 503].map((status) => ({ name: `when the service answers ${status}, then it is transient`, error: restError(status, "X", "x"), permanent: false })),
    { name: "when a connection resets (no status), then it is transient", error: Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }), permanent: false },
    { name: "when something that is not an Error is thrown, then it is transient", error: "boom", permanent: false },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(isPermanent(c.error), c.permanent));
  }
});

describe("describeError", () => {
  const cases: { name: string; error: unknown; expected: string }[] = [
    {
      name: "when a RestError has a status and a service error code, then both prefix the first line of the message",
      error: restError(403, "RestError", "This request is not authorized.\nRequestId:abc\nTime:2026", "AuthorizationPermissionMismatch"),
      expected: "[403 AuthorizationPermissionMismatch] This request is not authorized.",
    },
    { name: "when a RestError has only a code, then the code prefixes the message", error: restError(404, "ResourceNotFound", "The disk was not found."), expected: "[404 ResourceNotFound] The disk was not found." },
    { name: "when a PermanentError is described, then its code prefixes the message", error: new PermanentError("SourceSnapshotGone", "snapshot s1 no longer exists"), expected: "[SourceSnapshotGone] snapshot s1 no longer exists" },
    { name: "when a plain Error is described, then it is its message", error: new Error("queue not idle"), expected: "queue not idle" },
    { name: "when a string is thrown, then it is the description", error: "boom", expected: "boom" },
    {
      name: "when a message carries a SAS, then the description does not",
      error: restError(403, "AuthenticationFailed", "Server failed to authenticate https://a.blob.core.windows.net/c/b?sv=1&sig=s3cr3t"),
      expected: "[403 AuthenticationFailed] Server failed to authenticate https://a.blob.core.windows.net/c/b?sv=REDACTED&sig=REDACTED",
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(describeError(c.error), c.expected));
  }

  it("when a PermanentError is built from a message with a key, then the message is redacted at once", () => {
    const error = new PermanentError("BadConfig", "AccountKey=abc;AccountName=x");
    assert.equal(error.message, "AccountKey=REDACTED;AccountName=x");
    assert.equal(error.name, "PermanentError");
  });

  it("when reading a status or code off anything, then only numbers and strings count", () => {
    assert.equal(statusOf({ statusCode: "500" }), undefined);
    assert.equal(statusOf(undefined), undefined);
    assert.equal(codeOf({ code: 42 }), undefined);
    assert.equal(codeOf({ code: "Outer", details: { errorCode: "Inner" } }), "Inner");
  });
});
