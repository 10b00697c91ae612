/**
 * The disk properties a PUT or PATCH may carry beyond size and source, checked against the DiskRP reference's enums
 * (2025-01-02: DiskStorageAccountTypes, OperatingSystemTypes, HyperVGeneration, Architecture,
 * SupportedSecurityOption, DiskSecurityTypes; `logicalSectorSize` 512 or 4096). A bad value is 400 InvalidParameter
 * naming the property. Enum values are taken in any casing and echoed as the reference spells them (assumed: ARM
 * compares most enums case-insensitively).
 */
import type { BootProperties, SupportedCapabilities } from "../disks/store";
import { armError, optionalObject } from "./validation";

export const diskSkus = ["Standard_LRS", "Premium_LRS", "StandardSSD_LRS", "UltraSSD_LRS", "Premium_ZRS", "StandardSSD_ZRS", "PremiumV2_LRS"] as const;
const osTypes = ["Windows", "Linux"] as const;
const hyperVGenerations = ["V1", "V2"] as const;
const architectures = ["x64", "Arm64"] as const;
const securityOptions = ["TrustedLaunchSupported", "TrustedLaunchAndConfidentialVMSupported"] as const;
export const trustedLaunch = "TrustedLaunch";
const confidentialTypes = [
  "ConfidentialVM_VMGuestStateOnlyEncryptedWithPlatformKey",
  "ConfidentialVM_DiskEncryptedWithPlatformKey",
  "ConfidentialVM_DiskEncryptedWithCustomerKey",
  "ConfidentialVM_NonPersistedTPM",
] as const;
const securityTypes = [trustedLaunch, ...confidentialTypes] as const;
const logicalSectorSizes = [512, 4096];

/** The settings of a disk PUT besides its size and creationData, parsed. */
export interface DiskPutSettings {
  sku?: string;
  zones?: string[];
  boot: BootProperties;
  logicalSectorSize?: number;
}

/** Reads `sku`, `zones` and the boot properties of a disk PUT body; every value is checked before any is used. */
export function parseDiskPut(body: Record<string, unknown>, properties: Record<string, unknown>): DiskPutSettings {
  const creation = optionalObject(properties.creationData, "creationData");
  const boot = parseBootProperties(properties);
  const securityType = boot.securityProfile?.securityType;
  if (securityType !== undefined && boot.hyperVGeneration !== "V2") {
    // Trusted Launch and Confidential VMs are generation 2 VMs (Learn: Trusted Launch; Azure Policy "Disks and OS
    // image should support TrustedLaunch" flags V1 and unset); the code and wording of the refusal are assumed.
    throw armError(
      "properties.hyperVGeneration",
      `A disk with securityType '${securityType}' must have 'properties.hyperVGeneration' 'V2', not '${boot.hyperVGeneration ?? "(none)"}'.`,
    );
  }
  return {
    sku: parseSku(body.sku),
    zones: parseZones(body.zones),
    boot,
    logicalSectorSize: parseLogicalSectorSize(creation?.logicalSectorSize),
  };
}

/** The boot properties a PATCH may change (DiskUpdateProperties: osType, supportedCapabilities) and its sku. */
export function parseDiskPatch(body: Record<string, unknown>, properties: Record<string, unknown>): { sku?: string; boot: BootProperties } {
  return {
    sku: parseSku(body.sku),
    boot: {
      osType: optionalEnum(properties.osType, "properties.osType", osTypes),
      supportedCapabilities: parseCapabilities(properties.supportedCapabilities),
    },
  };
}

/** Whether a securityType is one of the ConfidentialVM_* types (they also need VM metadata for ImportSecure). */
export function isConfidential(securityType: string | undefined): boolean {
  return securityType !== undefined && (confidentialTypes as readonly string[]).includes(securityType);
}

function parseBootProperties(properties: Record<string, unknown>): BootProperties {
  const security = optionalObject(properties.securityProfile, "properties.securityProfile");
  const securityType = optionalEnum(security?.securityType, "properties.securityProfile.securityType", securityTypes);
  const encryptionSet = security?.secureVMDiskEncryptionSetId;
  if (encryptionSet !== undefined && typeof encryptionSet !== "string") {
    throw armError("properties.securityProfile.secureVMDiskEncryptionSetId", "Parameter 'secureVMDiskEncryptionSetId' must be a resource id.");
  }
  return definedOnly({
    osType: optionalEnum(properties.osType, "properties.osType", osTypes),
    hyperVGeneration: optionalEnum(properties.hyperVGeneration, "properties.hyperVGeneration", hyperVGenerations),
    supportedCapabilities: parseCapabilities(properties.supportedCapabilities),
    securityProfile:
      securityType === undefined ? undefined : definedOnly({ securityType, secureVMDiskEncryptionSetId: encryptionSet as string | undefined }),
  });
}

function parseCapabilities(value: unknown): SupportedCapabilities | undefined {
  const name = "properties.supportedCapabilities";
  const capabilities = optionalObject(value, name);
  if (!capabilities) return undefined;
  const controllers = capabilities.diskControllerTypes;
  // The reference: "SCSI or SCSI, NVME or NVME, SCSI".
  if (controllers !== undefined && (typeof controllers !== "string" || !/^\s*(SCSI|NVMe)\s*(,\s*(SCSI|NVMe)\s*)?$/i.test(controllers))) {
    throw armError(`${name}.diskControllerTypes`, `The value '${String(controllers)}' of '${name}.diskControllerTypes' is not valid: expected 'SCSI', 'SCSI, NVMe' or 'NVMe, SCSI'.`);
  }
  const accelerated = capabilities.acceleratedNetwork;
  if (accelerated !== undefined && typeof accelerated !== "boolean") {
    throw armError(`${name}.acceleratedNetwork`, `'${name}.acceleratedNetwork' must be true or false.`);
  }
  return definedOnly({
    architecture: optionalEnum(capabilities.architecture, `${name}.architecture`, architectures),
    diskControllerTypes: controllers as string | undefined,
    acceleratedNetwork: accelerated as boolean | undefined,
    supportedSecurityOption: optionalEnum(capabilities.supportedSecurityOption, `${name}.supportedSecurityOption`, securityOptions),
  });
}

function parseSku(value: unknown): string | undefined {
  const sku = optionalObject(value, "sku");
  return optionalEnum(sku?.name, "sku.name", diskSkus);
}

function parseZones(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.length > 1 || value.some((zone) => typeof zone !== "string" || !/^[1-3]$/.test(zone))) {
    // A disk is in at most one logical zone, "1" to "3" (assumed bounds; the reference only says a list of strings).
    throw armError("zones", `The value '${JSON.stringify(value)}' of 'zones' is not valid: a disk takes one zone, '1', '2' or '3'.`);
  }
  return value as string[];
}

function parseLogicalSectorSize(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !logicalSectorSizes.includes(value)) {
    throw armError("creationData.logicalSectorSize", `The value '${String(value)}' of 'creationData.logicalSectorSize' is not valid: expected 512 or 4096.`);
  }
  return value;
}

/** One of `allowed`, in the reference's casing, or undefined when absent; anything else is 400 InvalidParameter. */
function optionalEnum(value: unknown, name: string, allowed: readonly string[]): string | undefined {
  if (value === undefined || value === null) return undefined;
  const found = typeof value === "string" ? allowed.find((a) => a.toLowerCase() === value.toLowerCase()) : undefined;
  if (found === undefined) {
    throw armError(name, `The value '${String(value)}' of '${name}' is not valid. Allowed values are ${allowed.map((a) => `'${a}'`).join(", ")}.`);
  }
  return found;
}

/** The object without its undefined fields, so the echo carries only what was set. */
function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
