/** POST /api/catalog/rebuild — recreate missing RestorePoint records from the manifests in a target account. */
import { catalogRebuildRequestSchema, rebuildCatalog } from "../engine/catalog";
import { httpHandler, json, readBody } from "../host/http";
import { register } from "../host/register";

export const rebuildCatalogHandler = httpHandler(async (request, deps, log) => {
  const body = await readBody(request, catalogRebuildRequestSchema);
  if ("response" in body) return body.response;
  const result = await rebuildCatalog(deps, body.value);
  log.info("catalog rebuilt", { blobEndpoint: body.value.blobEndpoint, container: body.value.container, ...result, problems: result.problems.length });
  return json(200, result);
});

export default register({ kind: "http", name: "rebuildCatalog", methods: ["POST"], route: "catalog/rebuild", handler: rebuildCatalogHandler });
