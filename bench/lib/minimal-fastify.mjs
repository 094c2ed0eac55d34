// The baseline of the API throughput bench: the smallest useful Fastify app (the same Fastify as the web
// node's, logging off), one route answering a small JSON object, in a process of its own. It sends its URL
// to the parent and stops when the parent disconnects.
import { createRequire } from 'node:module';

const require = createRequire(new URL('../../apps/web/package.json', import.meta.url));
const { default: Fastify } = await import(require.resolve('fastify'));

const app = Fastify({ logger: false });
app.get('/hello', async () => ({ hello: 'world' }));
const url = await app.listen({ host: '127.0.0.1', port: 0 });
process.send({ url: `${url}/hello` });
process.on('disconnect', () => void app.close().then(() => process.exit(0)));
