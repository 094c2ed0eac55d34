import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from 'react';

/**
 * A small history-API router: the location is an external store, `navigate` pushes a path, and `Link`
 * renders a real `<a href>` (middle-click and copy-link keep working) that navigates in place.
 */
const NAVIGATED = 'jetbridge:navigated';

export interface Location {
  pathname: string;
  search: string;
  hash: string;
}

let current: Location = readLocation();

function readLocation(): Location {
  return { pathname: window.location.pathname, search: window.location.search, hash: window.location.hash };
}

function subscribe(onChange: () => void): () => void {
  const update = () => {
    const next = readLocation();
    if (next.pathname !== current.pathname || next.search !== current.search || next.hash !== current.hash) {
      current = next;
    }
    onChange();
  };
  window.addEventListener('popstate', update);
  window.addEventListener(NAVIGATED, update);
  return () => {
    window.removeEventListener('popstate', update);
    window.removeEventListener(NAVIGATED, update);
  };
}

export function useLocation(): Location {
  return useSyncExternalStore(subscribe, () => current);
}

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (options.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  if (!to.includes('#')) window.scrollTo(0, 0);
  window.dispatchEvent(new Event(NAVIGATED));
}

export function Link({ href, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  const handle = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (
      event.defaultPrevented ||
      event.button !== 0 ||
      event.metaKey ||
      event.ctrlKey ||
      event.shiftKey ||
      event.altKey
    )
      return;
    event.preventDefault();
    navigate(href);
  };
  return <a href={href} onClick={handle} {...rest} />;
}
