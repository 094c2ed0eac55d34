// The output collector thread's code (see collector-thread.ts): receives outputs as the web's thread asks,
// each with the connection it was given, and answers with what happened.
import { parentPort } from 'node:worker_threads';
import { transferableError } from './thread-errors.js';
import type { FromCollector, ToCollector } from './collector-messages.js';
import { snapshotKubeConfig } from './connection-snapshot.js';
import { receiveTarOut } from './tar-out-receiver.js';

const port = parentPort;
if (!port) throw new Error('collector-thread-entry runs in a worker thread');

const running = new Map<number, AbortController>();

port.on('message', (message: ToCollector) => {
  if (message.type === 'abort') {
    running.get(message.id)?.abort(new Error('aborted by the web'));
    return;
  }
  const abort = new AbortController();
  running.set(message.id, abort);
  void receiveTarOut(message.request, snapshotKubeConfig(message.connection), abort.signal).then(
    (outcome) => {
      running.delete(message.id);
      const { execError, extractError, ...rest } = outcome;
      const reply: FromCollector = {
        type: 'done',
        id: message.id,
        outcome: {
          ...rest,
          ...(execError === undefined ? {} : { execError: transferableError(execError) }),
          ...(extractError === undefined ? {} : { extractError: transferableError(extractError) }),
        },
      };
      port.postMessage(reply);
    },
  );
});
