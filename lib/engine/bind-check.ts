/** Whether a source address can be bound on this host (what every connection from it needs first). */

import net from 'node:net';

/**
 * Binds a listening socket to `address` on port 0 and closes it at once; no
 * packet is sent. Resolves with the error code (EADDRNOTAVAIL: the address is
 * not on this host) or undefined when it binds.
 */
export function bindError(address: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen({ host: address, port: 0, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}
