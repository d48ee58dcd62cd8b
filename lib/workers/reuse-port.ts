/**
 * Whether this runtime can bind UDP and TCP with SO_REUSEPORT (Node ≥ 22.12 / 23.1 on Linux), found out by doing
 * it: two sockets of each kind on one loopback port. Older runtimes ignore the option, so the second bind fails;
 * no version is parsed.
 */
import dgram from 'node:dgram';
import net from 'node:net';

/** The option older type definitions (@types/node 20) do not know. */
export type WithReusePort<T> = T & { reusePort?: boolean };

function udp(port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket({ type: 'udp4', reusePort: true } as WithReusePort<dgram.SocketOptions>);
    s.once('error', (err) => {
      s.close();
      reject(err);
    });
    s.bind({ port, address: '127.0.0.1', exclusive: true }, () => resolve(s));
  });
}

function tcp(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen({ port, host: '127.0.0.1', reusePort: true, exclusive: true } as WithReusePort<net.ListenOptions>, () => resolve(s));
  });
}

/** Undefined when both UDP and TCP bind with reusePort; otherwise why not, for the log. */
export async function reusePortUnsupported(): Promise<string | undefined> {
  const open: Array<{ close(): unknown }> = [];
  try {
    const a = await udp(0);
    open.push(a);
    open.push(await udp(a.address().port));
    const b = await tcp(0);
    open.push(b);
    open.push(await tcp((b.address() as net.AddressInfo).port));
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EADDRINUSE'
      ? `this runtime (node ${process.version}) cannot bind with reusePort (Node.js 22.12 or newer can)`
      : `binding with reusePort failed: ${(err as Error).message}`;
  } finally {
    for (const s of open) s.close();
  }
}
