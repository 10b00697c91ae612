/**
 * SAS restricted to https (`spr=https`) through the blob proxy. The proxy only listens on https, so every request
 * it serves meets that restriction; but it forwards to Azurite over plain http, and Azurite refuses such a SAS
 * there (403 AuthorizationProtocolMismatch: it compares `spr` with its own connection's protocol, and `spr` is
 * part of the signed string, so it cannot simply be dropped). The proxy therefore checks the signature with the
 * account key the way Azurite does, and when it holds, signs the same SAS again with `spr=https,http`. Azurite then
 * checks everything else (permissions, times, IP range, resource) itself. A signature that does not hold is left
 * as it is with only `spr` widened, so Azurite answers it as the forgery it is (403 AuthorizationFailure, its code for a bad SAS signature).
 *
 * The strings to sign follow Azurite 3.35's verifiers (blob/authentication/IBlobSASSignatureValues.js,
 * common/authentication/IAccountSASSignatureValues.js), which follow the REST reference for service and account
 * SAS. User delegation SAS (`skoid`) needs no account key and is forwarded unchanged.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { SharedKeyAccount } from "./shared-key";

const bothProtocols = "https,http";

/** `pathAndQuery` with an https-only SAS re-signed for Azurite, or unchanged when it carries none. */
export function widenHttpsOnlySas(pathAndQuery: string, accounts: ReadonlyMap<string, SharedKeyAccount>): string {
  const url = new URL(pathAndQuery, "https://proxy.invalid");
  const q = url.searchParams;
  if (q.get("spr") !== "https" || !q.has("sig") || q.has("skoid")) return pathAndQuery;
  const [accountName, container = "", ...blob] = url.pathname.split("/").slice(1).map(decodeURIComponent);
  const account = accounts.get(accountName);
  if (!account) return pathAndQuery;
  const stringToSign = q.has("ss") && q.has("srt") ? accountStringToSign(accountName, q) : serviceStringToSign(accountName, container, blob.join("/"), q);
  const key = Buffer.from(account.key, "base64");
  const given = Buffer.from(q.get("sig") ?? "", "base64");
  const expected = Buffer.from(sign(key, stringToSign("https")), "base64");
  const genuine = given.length === expected.length && timingSafeEqual(given, expected);
  q.set("spr", bothProtocols);
  if (genuine) q.set("sig", sign(key, stringToSign(bothProtocols)));
  return `${url.pathname}?${q.toString()}`;
}

function sign(key: Buffer, text: string): string {
  return createHmac("sha256", key).update(text, "utf8").digest("base64");
}

/** A SAS field as signed: absent fields sign as the empty string. */
function field(q: URLSearchParams, name: string): string {
  return q.get(name) ?? "";
}

/** Service SAS on a container or blob, for the versions Azurite verifies (2015-04-05, 2018-11-09, 2020-12-06 and later). */
function serviceStringToSign(account: string, container: string, blob: string, q: URLSearchParams): (protocol: string) => string {
  const version = field(q, "sv");
  const resource = field(q, "sr");
  const onBlob = version >= "2018-11-09" ? resource === "b" || resource === "bs" : resource === "b";
  const canonical = `/blob/${account}/${container}${onBlob && blob ? `/${blob}` : ""}`;
  const responseHeaders = ["rscc", "rscd", "rsce", "rscl", "rsct"].map((name) => field(q, name));
  return (protocol) => {
    const head = [field(q, "sp"), field(q, "st"), field(q, "se"), canonical, field(q, "si"), field(q, "sip"), protocol, version];
    if (version < "2018-11-09") return [...head, ...responseHeaders].join("\n");
    const resourceFields = [resource, field(q, "snapshot")];
    if (version < "2020-12-06") return [...head, ...resourceFields, ...responseHeaders].join("\n");
    return [...head, ...resourceFields, field(q, "ses"), ...responseHeaders].join("\n");
  };
}

/** Account SAS; from 2020-12-06 the encryption scope is signed too. Both end with a newline. */
function accountStringToSign(account: string, q: URLSearchParams): (protocol: string) => string {
  const version = field(q, "sv");
  return (protocol) => {
    const fields = [account, field(q, "sp"), field(q, "ss"), field(q, "srt"), field(q, "st"), field(q, "se"), field(q, "sip"), protocol, version];
    if (version >= "2020-12-06") fields.push(field(q, "ses"));
    return [...fields, ""].join("\n");
  };
}
