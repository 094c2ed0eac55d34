// Hot queries sent as named (prepared) statements. Kysely hands the pool's clients SQL text only, so a query
// marked here by its exact text is sent by the client wrapper below under a name derived from that text:
// PostgreSQL then parses it once per connection and, after a few runs, reuses a generic plan instead of
// planning it every time. Only fixed texts (values as parameters) belong here: each is kept on every
// connection for the connection's life.
import { createHash } from 'node:crypto';
import type { PostgresPool, PostgresPoolClient } from 'kysely';
import type pg from 'pg';

const namesByText = new Map<string, string>();

/** Send `text` as a named statement from now on (idempotent). */
export function markPrepared(text: string): void {
  if (namesByText.has(text)) return;
  namesByText.set(text, `jetbridge_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`);
}

/** `pool` as Kysely's dialect sees it, its clients sending marked texts as named statements. */
export function preparingPool(pool: pg.Pool): PostgresPool {
  // One wrapper per pooled client: Kysely keeps its per-connection state keyed by the client object.
  const wrappers = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  // pg's Pool keeps its client class at runtime (untyped): Kysely uses it to cancel a query on a connection of
  // its own, as it did with the bare pool.
  const { Client } = pool as unknown as Pick<PostgresPool, 'Client'>;
  return {
    ...(Client === undefined ? {} : { Client }),
    options: pool.options,
    connect: async () => {
      const client = await pool.connect();
      let wrapper = wrappers.get(client);
      if (wrapper === undefined) {
        wrapper = preparingClient(client);
        wrappers.set(client, wrapper);
      }
      return wrapper;
    },
    end: () => pool.end(),
  };
}

function preparingClient(client: pg.PoolClient): PostgresPoolClient {
  const query = (textOrCursor: unknown, parameters?: ReadonlyArray<unknown>): unknown => {
    const name = typeof textOrCursor === 'string' ? namesByText.get(textOrCursor) : undefined;
    if (name !== undefined)
      return client.query({ name, text: textOrCursor as string, values: [...(parameters ?? [])] });
    return (client.query as (...args: unknown[]) => unknown).call(client, textOrCursor, parameters);
  };
  return {
    query: query as PostgresPoolClient['query'],
    release: (destroy?: boolean) => client.release(destroy),
    // Kysely reads the backend's pid from here (to cancel queries) instead of asking the server for it.
    get processID() {
      return (client as unknown as { processID?: number }).processID;
    },
  };
}
