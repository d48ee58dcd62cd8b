/** Corefile syntax of `bind`: `bind ADDRESS|INTERFACE... { except ADDRESS... }`. */
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { argErr } from '../../corefile/args.js';
import { ConfigError, type Directive } from '../../corefile/types.js';

export interface BindConfig {
  /** Addresses to listen on, after expanding interface names and removing `except` addresses. */
  hosts: string[];
}

/** Addresses of a network interface by name, or undefined when there is no such interface. */
function interfaceAddresses(name: string): string[] | undefined {
  const ifs = networkInterfaces()[name];
  if (!ifs) return undefined;
  // Link-local IPv6 addresses need a zone to bind; CoreDNS skips them too unless scoped.
  return ifs.filter((i) => !(i.family === 'IPv6' && i.address.startsWith('fe80'))).map((i) => i.address);
}

/** Parse one `bind` directive (CoreDNS plugin/bind/setup.go). */
export function parse(d: Directive): BindConfig {
  if (d.args.length === 0) throw argErr(d, 'bind');
  const hosts: string[] = [];
  for (const a of d.args) {
    if (isIP(a.text)) hosts.push(a.text);
    else {
      const addrs = interfaceAddresses(a.text);
      if (addrs === undefined) throw new ConfigError(a, `not a valid IP address or interface name: ${a.text}`, 'bind');
      hosts.push(...addrs);
    }
  }
  const except = new Set<string>();
  for (const line of d.block ?? []) {
    if (line.name.text !== 'except') throw new ConfigError(line.name, `unknown property '${line.name.text}'`, 'bind');
    if (line.args.length === 0) throw argErr(line, 'bind');
    for (const a of line.args) {
      if (!isIP(a.text)) throw new ConfigError(a, `not a valid IP address: ${a.text}`, 'bind');
      except.add(a.text);
    }
  }
  const out = [...new Set(hosts.filter((h) => !except.has(h)))];
  if (out.length === 0) throw new ConfigError(d.name, 'no addresses left to bind after except', 'bind');
  return { hosts: out };
}
