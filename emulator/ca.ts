import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import selfsigned from "selfsigned";

/** Where the local certificate authority lives; `.local/` is never committed. */
export const localDir = resolve(process.env.DISKDELTA_LOCAL_DIR ?? ".local");
export const caCertPath = join(localDir, "ca", "ca.pem");
const caKeyPath = join(localDir, "ca", "ca.key");

/** A PEM certificate with its private key. */
export interface KeyPair {
  cert: string;
  key: string;
}

/**
 * Makes the local CA the first time it is needed and reuses it afterwards.
 * Node trusts it only through NODE_EXTRA_CA_CERTS, so production code keeps full TLS checks.
 */
export async function ensureLocalCa(): Promise<KeyPair> {
  if (existsSync(caCertPath) && existsSync(caKeyPath)) {
    return { cert: readFileSync(caCertPath, "utf8"), key: readFileSync(caKeyPath, "utf8") };
  }
  const notAfterDate = new Date(Date.now() + 365 * 24 * 3600 * 1000);
  const pems = await selfsigned.generate([{ name: "commonName", value: "diskdelta local CA" }], {
    keySize: 2048,
    algorithm: "sha256",
    notAfterDate,
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  mkdirSync(join(localDir, "ca"), { recursive: true });
  writeFileSync(caKeyPath, pems.private, { mode: 0o600 });
  writeFileSync(caCertPath, pems.cert);
  return { cert: pems.cert, key: pems.private };
}

/** A fresh server certificate for 127.0.0.1 and localhost, signed by the local CA, made at each start. */
export async function issueServerCertificate(ca: KeyPair): Promise<KeyPair> {
  const pems = await selfsigned.generate([{ name: "commonName", value: "127.0.0.1" }], {
    keySize: 2048,
    algorithm: "sha256",
    notAfterDate: new Date(Date.now() + 30 * 24 * 3600 * 1000),
    ca: { key: ca.key, cert: ca.cert },
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 7, ip: "127.0.0.1" },
          { type: 2, value: "localhost" },
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}
