/**
 * Preload (`node --require`) that makes any network use throw: sockets (TCP, TLS, HTTP, fetch all connect through
 * `net.Socket`) and DNS look-ups. Proves a command such as `conformance --live --plan` sends nothing.
 */
import dns from "node:dns";
import net from "node:net";

function refuse(what: string): never {
  throw new Error(`network use refused by no-network preload: ${what}`);
}

net.Socket.prototype.connect = function connect(): never {
  return refuse("socket connect");
};
dns.lookup = ((hostname: string) => refuse(`dns lookup of ${hostname}`)) as unknown as typeof dns.lookup;
dns.promises.lookup = ((hostname: string) => refuse(`dns lookup of ${hostname}`)) as unknown as typeof dns.promises.lookup;
