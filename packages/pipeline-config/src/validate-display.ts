// Display config (configvalidate `validateDisplay`): the background image must parse as a URL (Go's
// `url.Parse`) with scheme http, https or none (relative).
import type { PipelineConfig } from './config.js';

export function validateDisplay(config: PipelineConfig): string | undefined {
  if (config.display === undefined) return undefined;
  const image = config.display.background_image ?? '';
  const scheme = goUrlScheme(image);
  if (scheme === undefined) return `background_image is not a valid URL: ${image}`;
  if (scheme !== 'http' && scheme !== 'https' && scheme !== '') {
    return 'background_image scheme must be either http, https or relative';
  }
  return undefined;
}

/** The lower-cased scheme Go's `url.Parse` finds, or `undefined` where it reports an error. */
function goUrlScheme(raw: string): string | undefined {
  if (/[\x00-\x1f\x7f]/.test(raw)) return undefined; // "net/url: invalid control character in URL"
  const [beforeFragment = '', ...fragment] = raw.split('#');
  if (!validEscapes(beforeFragment) || !validEscapes(fragment.join('#'))) return undefined;

  let scheme = '';
  let rest = beforeFragment;
  for (let i = 0; i < beforeFragment.length; i++) {
    const c = beforeFragment[i] as string;
    if (/[a-zA-Z]/.test(c)) continue;
    if (/[0-9+.-]/.test(c)) {
      if (i === 0) break;
      continue;
    }
    if (c === ':') {
      if (i === 0) return undefined; // "missing protocol scheme"
      scheme = beforeFragment.slice(0, i).toLowerCase();
      rest = beforeFragment.slice(i + 1);
    }
    break;
  }

  const query = rest.indexOf('?');
  const beforeQuery = query === -1 ? rest : rest.slice(0, query);
  if (scheme !== '' && !beforeQuery.startsWith('/')) return scheme; // opaque, e.g. "mailto:x"
  if (beforeQuery.startsWith('//')) {
    const authority = beforeQuery.slice(2).split('/')[0] ?? '';
    const host = authority.slice(authority.lastIndexOf('@') + 1);
    if (!validHostPort(host)) return undefined;
  } else if (scheme === '') {
    // A relative path whose first segment has a colon would have been read as a scheme.
    const firstSegment = beforeQuery.split('/')[0] ?? '';
    if (firstSegment.includes(':')) return undefined;
  }
  return scheme;
}

function validEscapes(text: string): boolean {
  return !/%(?![0-9a-fA-F]{2})/.test(text);
}

function validHostPort(host: string): boolean {
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close === -1) return false; // "missing ']' in host"
    const after = host.slice(close + 1);
    return after === '' || /^:[0-9]*$/.test(after);
  }
  const colon = host.lastIndexOf(':');
  return colon === -1 || /^[0-9]*$/.test(host.slice(colon + 1));
}
