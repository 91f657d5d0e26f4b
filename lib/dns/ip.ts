// One spelling per address: a PUBLIC_IPS entry written as 2001:db8:0:0::7 and a resolver's
// 2001:db8::7 are the same record, and comparing strings would call them different.
import { isIP } from 'node:net';

export type Family = 'A' | 'AAAA';

/** The record type an address belongs in, or null for something that is not an address. */
export function familyOf(address: string): Family | null {
  const v = isIP(address);
  return v === 4 ? 'A' : v === 6 ? 'AAAA' : null;
}

/** IPv6 in the compressed lower-case form resolvers print; IPv4 unchanged. */
export function canonicalIp(address: string): string {
  if (isIP(address) !== 6) return address;
  // The WHATWG URL parser implements RFC 5952 serialisation, which is what resolvers print.
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/** `ip:port` in the form Resolver#setServers takes; port 53 stays implicit. */
export function serverAddress(ip: string, port: number): string {
  if (port === 53) return ip;
  return isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}
