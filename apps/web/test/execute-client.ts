// What `fly execute` does over HTTP (concourse-api.md §6.3), for tests: upload a directory as a chunked
// gzip'd tar, post the §4.2 plan, read the event stream as vito/go-sse parses it, list and download the
// build's artifacts. Real `tar`, real HTTP, nothing mocked.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { Readable } from 'node:stream';
import { once } from 'node:events';

export interface SseFrame {
  id: string;
  name: string;
  data: string;
}

export interface EnvelopeEvent {
  event: string;
  version: string;
  event_id: string;
  data: Record<string, unknown>;
}

export function authHeaders(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/**
 * Frames of an SSE body parsed like go-sse: `field: value` lines (one optional space after the colon), a
 * line without a colon is a field with an empty value, a blank line ends a frame, and a frame without any
 * `data` line is dropped. Also returns the raw text read, for byte-for-byte comparisons.
 */
export async function* sseFrames(
  body: ReadableStream<Uint8Array>,
  raw?: { text: string },
): AsyncGenerator<SseFrame> {
  const decoder = new TextDecoder();
  let buffer = '';
  let frame: { id: string; name: string; data: string[] | undefined } = { id: '', name: '', data: undefined };
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    const text = decoder.decode(chunk, { stream: true });
    if (raw) raw.text += text;
    buffer += text;
    let newline: number;
    while ((newline = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (line === '') {
        if (frame.data !== undefined) yield { id: frame.id, name: frame.name, data: frame.data.join('\n') };
        frame = { id: frame.id, name: '', data: undefined };
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'id') frame.id = value;
      else if (field === 'event') frame.name = value;
      else if (field === 'data') (frame.data ??= []).push(value);
    }
  }
}

/** `tar -czf - -C dir .` (entries start with `./`, as fly sends a whole directory), as a Node stream. */
export function tarGzOf(dir: string): Readable {
  const tar = spawn('tar', ['-czf', '-', '-C', dir, '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return tar.stdout;
}

/** POST a body stream chunked (no Content-Length), as go-concourse uploads artifacts. */
export async function postStream(url: string, token: string, body: Readable): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { ...authHeaders(token), 'content-type': 'application/octet-stream' },
    body: Readable.toWeb(body) as unknown as ReadableStream<Uint8Array>,
    duplex: 'half',
  } as RequestInit);
}

export async function uploadArtifact(
  baseUrl: string,
  token: string,
  team: string,
  body: Readable,
): Promise<Response> {
  return postStream(`${baseUrl}/api/v1/teams/${team}/artifacts?platform=linux`, token, body);
}

/** Extract a gzip'd tar response into `dir` with the system tar (fly pipes it to its own extractor). */
export async function extractTarGz(response: Response, dir: string): Promise<void> {
  const tar = spawn('tar', ['-xzf', '-', '-C', dir], { stdio: ['pipe', 'inherit', 'inherit'] });
  const body = Readable.fromWeb(
    response.body as unknown as import('node:stream/web').ReadableStream<Uint8Array>,
  );
  body.pipe(tar.stdin);
  const [code] = (await once(tar, 'close')) as [number];
  if (code !== 0) throw new Error(`tar -x exited ${code}`);
}

let planIdCounter = Math.floor(Date.now() / 1000);
/** Plan ids as fly makes them: lowercase hex of a counter seeded with the Unix time. */
function nextPlanId(): string {
  return (planIdCounter++).toString(16);
}

export interface TaskConfigJson {
  platform: string;
  image_resource?: Record<string, unknown>;
  inputs?: Array<{ name: string; path?: string; optional?: boolean }>;
  outputs?: Array<{ name: string; path?: string }>;
  params?: Record<string, string>;
  run: { path: string; args?: string[]; dir?: string; user?: string };
}

/** The plan `fly execute` posts (§4.2): `do[in_parallel{artifact_input…}, task one-off]`, in `ensure` with outputs. */
export function executePlan(
  config: TaskConfigJson,
  inputs: Array<{ name: string; artifactId: number }>,
  outputs: string[],
) {
  const inputSteps = inputs.map((input) => ({
    id: nextPlanId(),
    artifact_input: { artifact_id: input.artifactId, name: input.name },
  }));
  const outputSteps = outputs.map((name) => ({ id: nextPlanId(), artifact_output: { name } }));
  const inputsNode = { id: nextPlanId(), in_parallel: { steps: inputSteps.length > 0 ? inputSteps : null } };
  const taskNode = {
    id: nextPlanId(),
    task: { name: 'one-off', privileged: false, hermetic: false, config },
  };
  const doNode = { id: nextPlanId(), do: [inputsNode, taskNode] };
  if (outputs.length === 0) return doNode;
  return {
    id: nextPlanId(),
    ensure: { step: doNode, ensure: { id: nextPlanId(), in_parallel: { steps: outputSteps } } },
  };
}

export async function createBuild(
  baseUrl: string,
  token: string,
  team: string,
  plan: unknown,
): Promise<Response> {
  return fetch(`${baseUrl}/api/v1/teams/${team}/builds`, {
    method: 'POST',
    headers: { ...authHeaders(token), 'content-type': 'application/json' },
    body: JSON.stringify(plan),
  });
}

export interface StreamResult {
  frames: SseFrame[];
  events: EnvelopeEvent[];
  raw: string;
  ended: boolean;
}

/**
 * Read a build's event stream until its `end` frame (or `untilTerminalStatus`: until the first final status
 * event, where fly stops). `onEvent` sees each event as it arrives.
 */
export async function readBuildEvents(
  baseUrl: string,
  token: string,
  buildId: number,
  options: {
    lastEventId?: string;
    untilTerminalStatus?: boolean;
    onEvent?: (event: EnvelopeEvent) => void | Promise<void>;
  } = {},
): Promise<StreamResult> {
  // node:http rather than fetch: the connection is ours to close when we stop reading, as fly's is.
  const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const request = http.get(
      `${baseUrl}/api/v1/builds/${buildId}/events`,
      {
        headers: {
          ...authHeaders(token),
          accept: 'text/event-stream',
          ...(options.lastEventId !== undefined ? { 'last-event-id': options.lastEventId } : {}),
        },
        agent: false,
      },
      resolve,
    );
    request.on('error', reject);
  });
  if (response.statusCode !== 200) {
    response.resume();
    response.destroy();
    throw new Error(`events: ${response.statusCode}`);
  }
  const raw = { text: '' };
  const result: StreamResult = { frames: [], events: [], raw: '', ended: false };
  try {
    for await (const frame of sseFrames(
      Readable.toWeb(response) as unknown as ReadableStream<Uint8Array>,
      raw,
    )) {
      result.frames.push(frame);
      if (frame.name === 'end') {
        result.ended = true;
        break;
      }
      if (frame.name !== 'event') throw new Error(`unknown event name ${frame.name}`);
      const event = JSON.parse(frame.data) as EnvelopeEvent;
      result.events.push(event);
      await options.onEvent?.(event);
      const status = event.event === 'status' ? (event.data['status'] as string) : undefined;
      if (options.untilTerminalStatus && status !== undefined && status !== 'started') break;
    }
  } finally {
    response.destroy();
  }
  result.raw = raw.text;
  return result;
}

export function statusesOf(events: EnvelopeEvent[]): string[] {
  return events.filter((event) => event.event === 'status').map((event) => event.data['status'] as string);
}

export function logText(events: EnvelopeEvent[], source?: 'stdout' | 'stderr'): string {
  return events
    .filter((event) => event.event === 'log')
    .filter(
      (event) => source === undefined || (event.data['origin'] as { source?: string }).source === source,
    )
    .map((event) => event.data['payload'] as string)
    .join('');
}
