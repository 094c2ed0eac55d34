// Reading one file out of a build artifact (Concourse's Streamer.StreamFile): task `file:`, load_var and
// set_pipeline files. Paths are `<artifact name>/<path inside it>`.
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { FileNotFoundError, type Volume } from '@jetbridge/runtime';

/** `repo/ci/task.yml` → `{artifact: 'repo', file: 'ci/task.yml'}`; undefined when there is no `/`. */
export function splitArtifactPath(path: string): { artifact: string; file: string } | undefined {
  const slash = path.indexOf('/');
  if (slash < 0) return undefined;
  return { artifact: path.slice(0, slash), file: path.slice(slash + 1) };
}

/** The content of `file` in `volume`; rejects with FileNotFoundError when it does not exist. */
export async function readArtifactFile(volume: Volume, file: string): Promise<Buffer> {
  return firstFileOf(await volume.streamOut(file), file);
}

/** The content of the first regular file in a tar stream (a volume streams a single file that way). */
async function firstFileOf(stream: Readable, name: string): Promise<Buffer> {
  const extract = tar.extract();
  stream.on('error', (error) => extract.destroy(error));
  stream.pipe(extract);
  let content: Buffer | undefined;
  for await (const entry of extract) {
    if (content === undefined && entry.header.type === 'file') {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      content = Buffer.concat(chunks);
    } else {
      entry.resume();
    }
  }
  if (content === undefined) throw new FileNotFoundError(name);
  return content;
}
