/**
 * The errors the emulated services answer, each defined once: HTTP status, error code and the service's message.
 * Storage errors are the Blob service's (blob proxy, snapshot data endpoint, the HTTPS server's own answers);
 * ARM errors are Microsoft.Compute's and ARM's front door's. Errors whose message names one resource or parameter
 * of one domain rule (a disk that cannot shrink, a VHD that is not one) stay with that rule, where they are
 * raised once.
 */
import { EmulatorHttpError, type ErrorDetails } from "./disks/api";

/** An error as a service answers it. */
export interface ServiceError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

/** The error to throw for a catalogued answer, with the extra elements and headers this answer carries. */
export function httpError(error: ServiceError, details: ErrorDetails = {}, headers: Record<string, string> = {}): EmulatorHttpError {
  return new EmulatorHttpError(error.status, error.code, error.message, details, headers);
}

const authenticationFailedMessage =
  "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.";

/** Blob service errors, with the service's messages where the emulator knows them. */
export const storageErrors = {
  internalError: { status: 500, code: "InternalError", message: "The server encountered an internal error. Please retry the request." },
  stackFailed: { status: 500, code: "InternalError", message: "The local stack failed to serve the request." },
  azuriteSilent: { status: 500, code: "InternalError", message: "The local blob service (Azurite) did not answer." },
  serverBusy: { status: 503, code: "ServerBusy", message: "The server is currently unable to receive requests. Please retry your request." },
  accountThrottled: { status: 503, code: "ServerBusy", message: "Operations per second is over the account limit." },
  resourceNotFound: { status: 404, code: "ResourceNotFound", message: "The specified resource does not exist." },
  authenticationFailed: { status: 403, code: "AuthenticationFailed", message: authenticationFailedMessage },
  /** The blob service's 403 for a bad, expired or revoked SAS, with why; `detail` never contains the signature. */
  sasRefused: (detail: string) => ({ status: 403, code: "AuthenticationFailed", message: `${authenticationFailedMessage} ${detail}` }),
  authenticationSchemeRefused: {
    status: 403,
    code: "AuthenticationFailed",
    message: "Server failed to authenticate the request. The local stack accepts Shared Key and SAS only.",
  },
  noAuthenticationInformation: {
    status: 401,
    code: "NoAuthenticationInformation",
    message: "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.",
  },
  authorizationPermissionMismatch: {
    status: 403,
    code: "AuthorizationPermissionMismatch",
    message: "This request is not authorized to perform this operation using this permission.",
  },
  missingRequiredHeader: { status: 400, code: "MissingRequiredHeader", message: "An HTTP header that's mandatory for this request is not specified." },
  invalidHeaderValue: { status: 400, code: "InvalidHeaderValue", message: "The value for one of the HTTP headers is not in the correct format." },
  previousSnapshotUrlInvalid: { status: 400, code: "InvalidHeaderValue", message: "The value for header 'x-ms-previous-snapshot-url' is not a URL." },
  invalidQueryParameterValue: {
    status: 400,
    code: "InvalidQueryParameterValue",
    message: "Value for one of the query parameters specified in the request URI is invalid.",
  },
  /**
   * Get Block List of a page blob: the service documents 400 ("Get Block List applies only to block blobs"), not its
   * code; this is the service's code and message for an operation on a blob of the wrong type (listed there with 409).
   */
  blockListOfPageBlob: { status: 400, code: "InvalidBlobType", message: "The blob type is invalid for this operation." },
  /** A premium (page blob only) account's answer to a block or append blob request; the message is the service's, from public reports. */
  blockBlobsNotSupported: { status: 400, code: "BlobTypeNotSupported", message: "Block blobs are not supported." },
  invalidBlobTier: { status: 400, code: "InvalidBlobTier", message: "The specified blob tier is invalid." },
  snapshotCountExceeded: { status: 409, code: "SnapshotCountExceeded", message: "The snapshot count against this blob has been exceeded." },
  snapshotOperationRateExceeded: { status: 409, code: "SnapshotOperationRateExceeded", message: "The rate of snapshot blob calls is exceeded." },
  blobTierInadequateForContentLength: {
    status: 409,
    code: "BlobTierInadequateForContentLength",
    message: "The specified blob tier size limit cannot be less than content length.",
  },
  outOfRangeInput: { status: 400, code: "OutOfRangeInput", message: "One of the request inputs is out of range." },
  md5Mismatch: {
    status: 400,
    code: "Md5Mismatch",
    message: "The MD5 value specified in the request did not match with the MD5 value calculated by the server.",
  },
  /** A range outside the blob; the answer carries the blob's size in Content-Range. */
  invalidRange: { status: 416, code: "InvalidRange", message: "The range specified is invalid for the current size of the resource." },
  rangeHeaderInvalid: (header: string) => ({ status: 400, code: "InvalidRange", message: `The range header '${header}' is not valid.` }),
  /** Put Page: a range not on 512-byte pages, or past the end of the blob. */
  invalidPageRange: { status: 416, code: "InvalidPageRange", message: "The page range specified is invalid." },
  requestBodyTooLarge: {
    status: 413,
    code: "RequestBodyTooLarge",
    message: "The request body is too large and exceeds the maximum permissible limit.",
  },
  conditionNotMet: { status: 412, code: "ConditionNotMet", message: "The condition specified using HTTP conditional header(s) is not met." },
  sourceConditionNotMet: {
    status: 412,
    code: "SourceConditionNotMet",
    message: "The source condition specified using HTTP conditional header(s) is not met.",
  },
  /** The header is the managed-disk accounts' (AZURE-FACTS); the status and message are the emulator's reading. */
  previousSnapshotUrlNotSupported: {
    status: 400,
    code: "UnsupportedHeaderForNonManagedDisksAccount",
    message: "The header 'x-ms-previous-snapshot-url' is supported only on managed disk accounts.",
  },
  /** A write addressed to a blob snapshot, which is read-only; the code is the emulator's reading (see docs/local-stack.md). */
  snapshotIsReadOnly: {
    status: 400,
    code: "InvalidQueryParameterValue",
    message: "Value for one of the query parameters specified in the request URI is invalid.",
  },
  cannotVerifyCopySource: { status: 500, code: "CannotVerifyCopySource", message: "Could not verify the copy source within the specified time." },
  previousSnapshotNotSupported: {
    status: 409,
    code: "PreviousSnapshotOperationNotSupported",
    message: "Differential Get Page Ranges is not supported on the previous snapshot.",
  },
  previousSnapshotAcrossGrowth: {
    status: 409,
    code: "PreviousSnapshotOperationNotSupported",
    message: "Differential Get Page Ranges is not supported on the previous snapshot: the disk grew past 4 TiB since.",
  },
  previousSnapshotCannotBeNewer: {
    status: 400,
    code: "PreviousSnapshotCannotBeNewer",
    message: "The prevsnapshot query parameter value cannot be newer than snapshot query parameter value.",
  },
} as const satisfies Record<string, ServiceError | ((...args: never[]) => ServiceError)>;

const injectedFaultMessage = "The service encountered an error; retry the request (injected fault).";

/** ARM and Microsoft.Compute errors. */
export const armErrors = {
  authorizationMissing: { status: 401, code: "AuthenticationFailed", message: "Authentication failed. The 'Authorization' header is missing." },
  invalidToken: { status: 401, code: "InvalidAuthenticationToken", message: "The access token is invalid." },
  missingApiVersion: {
    status: 400,
    code: "MissingApiVersionParameter",
    message: "The api-version query parameter (?api-version=) is required for all requests.",
  },
  subscriptionNotFound: (id: string) => ({ status: 404, code: "SubscriptionNotFound", message: `The subscription '${id}' could not be found.` }),
  methodNotAllowed: (method: string) => ({ status: 405, code: "MethodNotAllowed", message: `The method '${method}' is not allowed on this resource.` }),
  resourceNotFound: (kind: string, resourceGroup: string, name: string) => ({
    status: 404,
    code: "ResourceNotFound",
    message:
      `The Resource 'Microsoft.Compute/${kind}/${name}' under resource group '${resourceGroup}' was not found. ` +
      "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
  }),
  /** ARM's front door, for any request under a group that does not exist (disks, snapshots, the group itself). */
  resourceGroupNotFound: (name: string) => ({ status: 404, code: "ResourceGroupNotFound", message: `Resource group '${name}' could not be found.` }),
  /** What ARM's own resource types (resource groups) answer to an api-version that is not one. */
  invalidApiVersion: (version: string) => ({ status: 400, code: "InvalidApiVersionParameter", message: `The api-version '${version}' is invalid.` }),
  sourceDiskNotFound: (id: string) => ({ status: 404, code: "ResourceNotFound", message: `The source disk '${id}' was not found.` }),
  sourceSnapshotNotFound: (id: string) => ({ status: 404, code: "ResourceNotFound", message: `The source snapshot '${id}' was not found.` }),
  operationNotFound: (name: string) => ({ status: 404, code: "NotFound", message: `The operation '${name}' was not found.` }),
  locationRequired: { status: 400, code: "LocationRequired", message: "The location property is required for this definition." },
  notJsonObject: { status: 400, code: "InvalidRequestContent", message: "The request content must be a JSON object." },
  invalidJson: { status: 400, code: "InvalidRequestContent", message: "The request content is not valid JSON." },
  /** Assumed code: Read access to a disk waiting for or in the middle of its upload. */
  diskNotReadable: (name: string, state: string) => ({
    status: 409,
    code: "OperationNotAllowed",
    message: `Disk '${name}' is in state ${state}: read access is not granted until its upload ends (revoke access first).`,
  }),
  /**
   * A call about resources in a region that is down (`setRegionOutage`). Assumed: ARM's front door is global and
   * answers; the regional resource provider does not, so ARM says the service is unavailable.
   */
  regionUnavailable: (location: string) => ({
    status: 503,
    code: "ServiceUnavailable",
    message: `The Microsoft.Compute resource provider in region '${location}' is unavailable. Retry later.`,
  }),
  /**
   * ARM's front door, for a PUT of an existing resource in another location (a resource cannot move). Code and
   * message as public reports quote them (e.g. MicrosoftDocs/azure-docs#70422); 409 as ARM gives a resource group's
   * InvalidResourceGroupLocation.
   */
  resourceInOtherLocation: (name: string, location: string, resourceGroup: string, requested: string) => ({
    status: 409,
    code: "InvalidResourceLocation",
    message:
      `The resource '${name}' already exists in location '${location}' in resource group '${resourceGroup}'. ` +
      `A resource with the same name cannot be created in location '${requested}'. Please select a new resource name.`,
  }),
  /** A PUT of an existing resource that changes what is fixed at creation (a disk's creationData, a snapshot's incremental). */
  propertyChangeNotAllowed: (property: string) => ({
    status: 409,
    code: "PropertyChangeNotAllowed",
    message: `Changing property '${property}' is not allowed.`,
  }),
  /** Answered with Retry-After and a TooManyRequests detail, which the SDKs' throttling retry policy waits for. */
  throttled: {
    status: 429,
    code: "OperationNotAllowed",
    message: "The server rejected the request because too many requests have been received for this subscription.",
  },
  injectedInternalError: { status: 500, code: "InternalServerError", message: injectedFaultMessage },
  injectedUnavailable: { status: 503, code: "ServiceUnavailable", message: injectedFaultMessage },
} as const satisfies Record<string, ServiceError | ((...args: never[]) => ServiceError)>;

/** Errors of the stack's own `/_emulator/...` control routes (not Azure's). */
export const controlErrors = {
  invalidJson: { status: 400, code: "InvalidJson", message: "The body is not valid JSON." },
  invalidFaultRules: (problems: string) => ({ status: 400, code: "InvalidFaultRules", message: problems }),
  methodNotAllowed: (method: string | undefined, path: string) => ({
    status: 405,
    code: "MethodNotAllowed",
    message: `${method} is not allowed on ${path}.`,
  }),
} as const satisfies Record<string, ServiceError | ((...args: never[]) => ServiceError)>;
