import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { loadSettings, settingKeys, settingsSchema } from "../../src/config";
import { maxDequeueCount } from "../../src/host/queue";
import { bicepObjectVar, readRepoFile } from "../support/bicep-text";

/** Settings of the Functions host and platform, not of diskdelta: never in the schema, allowed where listed. */
const hostSettings = {
  bicep: [
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "languageWorkers__node__arguments",
  ],
  sample: ["FUNCTIONS_WORKER_RUNTIME"],
};

/** Schema settings that belong to one side only. */
const localOnly = [
  // Azure uses the identity-based AzureWebJobsStorage__accountName instead of a connection string.
  "AzureWebJobsStorage",
  // The local stack's endpoints and credentials; never set in Azure.
  "DISKDELTA_LOCAL_STACK_FILE",
];
const azureOnly = [
  // Locally, AzureWebJobsStorage holds a connection string and there is no managed identity.
  "AzureWebJobsStorage__accountName",
  "AZURE_CLIENT_ID",
];

const bicepSettings = bicepObjectVar(readRepoFile("infra/modules/function-app.bicep"), "appSettings");
const bicepKeys = bicepSettings.map((setting) => setting.key);
const sample = JSON.parse(readRepoFile("local.settings.sample.json")) as { IsEncrypted: boolean; Values: Record<string, string> };
const sampleKeys = Object.keys(sample.Values);
const schemaKeys: readonly string[] = settingKeys;
const defaults = settingsSchema.parse({}) as Record<string, unknown>;

const missing = (wanted: readonly string[], present: readonly string[]) => wanted.filter((key) => !present.includes(key));

describe("app settings: src/config.ts, infra/ and local.settings.sample.json", () => {
  test("when the schema reads a setting, then the Bicep app settings set it unless it is local only", () => {
    assert.deepEqual(missing(missing(schemaKeys, localOnly), bicepKeys), []);
  });

  test("when the Bicep app settings set a key, then the schema reads it or it is a listed host setting", () => {
    assert.deepEqual(missing(bicepKeys, [...schemaKeys, ...hostSettings.bicep]), []);
    assert.deepEqual(bicepKeys.filter((key) => localOnly.includes(key)), [], "local-only settings must not be set in Azure");
  });

  test("when the schema reads a setting, then the sample lists it unless it is Azure only", () => {
    assert.deepEqual(missing(missing(schemaKeys, azureOnly), sampleKeys), []);
  });

  test("when the sample lists a key, then the schema reads it or it is a listed host setting", () => {
    assert.deepEqual(missing(sampleKeys, [...schemaKeys, ...hostSettings.sample]), []);
    assert.deepEqual(sampleKeys.filter((key) => azureOnly.includes(key)), [], "Azure-only settings must not be in the sample");
  });

  test("when a setting has a default, then the sample and every literal in Bicep carry exactly that default", () => {
    for (const [key, value] of Object.entries(defaults)) {
      if (value === undefined) continue;
      assert.equal(sample.Values[key], String(value), `local.settings.sample.json ${key}`);
      const literal = bicepSettings.find((setting) => setting.key === key)?.literal;
      if (literal !== undefined) assert.equal(literal, String(value), `infra/modules/function-app.bicep ${key}`);
    }
  });

  test("when the sample is used as app settings, then the schema accepts it in the Functions file format", () => {
    assert.equal(sample.IsEncrypted, false);
    assert.equal(sample.Values.FUNCTIONS_WORKER_RUNTIME, "node");
    assert.equal(sample.Values.AzureWebJobsStorage, "UseDevelopmentStorage=true");
    assert.ok(Object.values(sample.Values).every((value) => typeof value === "string"), "every value is a string");
    assert.doesNotThrow(() => loadSettings(sample.Values));
  });

  test("when a setting is listed as host, local or Azure only, then the list is still right about the schema", () => {
    assert.deepEqual([...hostSettings.bicep, ...hostSettings.sample].filter((key) => schemaKeys.includes(key)), []);
    assert.deepEqual(missing([...localOnly, ...azureOnly], schemaKeys), []);
  });
});

describe("host.json", () => {
  test("when the host gives up on a message, then it is after the attempt count the queue handlers expect", () => {
    const host = JSON.parse(readRepoFile("host.json")) as { extensions?: { queues?: { maxDequeueCount?: unknown } } };
    assert.equal(host.extensions?.queues?.maxDequeueCount, maxDequeueCount);
  });
});
