import net from 'node:net';

/**
 * Finds a TCP port that is free right now on `host` by letting the kernel pick
 * one (listen on port 0) and closing the listener again.
 *
 * The port is only free at the moment of the check: another process may take it
 * before the caller binds it, so callers that start a server should be ready to
 * retry on EADDRINUSE.
 *
 * @param host - local address to probe, loopback by default
 * @returns the port number
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', (err) => reject(new Error(`freePort(${host}): ${err.message}`)));
    server.listen({ host, port: 0, exclusive: true }, () => {
      const addr = server.address();
      if (addr === null || typeof addr === 'string') {
        server.close();
        reject(new Error(`freePort(${host}): unexpected server address ${String(addr)}`));
        return;
      }
      const { port } = addr;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}
