import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/**
 * Concourse's `--prometheus-bind-ip/--prometheus-bind-port`: metrics on a listener of their own, so the main
 * port (often behind a public ingress) does not show them. It answers `GET /metrics` and nothing else.
 */
export interface PrometheusListener {
  url: string;
  close(): Promise<void>;
}

export async function startPrometheusListener(
  registry: Registry,
  bind: { ip: string; port: number },
  onError: (err: unknown) => void,
): Promise<PrometheusListener> {
  const server = http.createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => {
        response.writeHead(200, { 'content-type': registry.contentType });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        onError(err);
        response.writeHead(500).end();
      },
    );
  });
  // Scrapers keep connections alive between scrapes; close() must not wait for them.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(bind.port, bind.ip, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${bind.ip === '0.0.0.0' ? '127.0.0.1' : bind.ip}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
