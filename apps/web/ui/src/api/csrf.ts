/**
 * The CSRF token of the browser session (§5.5). The `skymarshal_csrf` cookie is HttpOnly, so the page cannot
 * read it; as with Concourse's UI, the server hands the token over in the redirect after login
 * (`/sky/login` → `<redirect_uri>?csrf_token=…`) and the page keeps it in localStorage.
 *
 * When the page has no token but the session is alive (storage cleared, or the login was made by
 * `fly login` in this browser), it asks `/sky/login` again: with a valid session cookie the server skips the
 * form and redirects straight to `redirect_uri` with `csrf_token` — the fetch follows that redirect and the
 * token is read off the final URL. No server change is needed for either path.
 */
const STORAGE_KEY = 'csrf_token';
const TOKEN_PARAM = 'csrf_token';

export function csrfToken(): string | undefined {
  try {
    return window.localStorage.getItem(STORAGE_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

function store(token: string | undefined): void {
  try {
    if (token) window.localStorage.setItem(STORAGE_KEY, token);
    else window.localStorage.removeItem(STORAGE_KEY);
  } catch {
    // Storage disabled: mutations will fetch the token each time.
  }
}

export function clearCsrfToken(): void {
  store(undefined);
}

/** Take `csrf_token` off the address bar after a login redirect, keeping it. True when one was there. */
export function captureCsrfTokenFromUrl(): boolean {
  const url = new URL(window.location.href);
  const token = url.searchParams.get(TOKEN_PARAM);
  if (!token) return false;
  store(token);
  url.searchParams.delete(TOKEN_PARAM);
  window.history.replaceState(window.history.state, '', `${url.pathname}${url.search}${url.hash}`);
  return true;
}

/** Ask the server for the session's token (see above); undefined when there is no live session. */
export async function refreshCsrfToken(): Promise<string | undefined> {
  try {
    const res = await fetch(`/sky/login?redirect_uri=${encodeURIComponent('/api/v1/info')}`, {
      credentials: 'same-origin',
      headers: { accept: 'application/json' },
    });
    const token = new URL(res.url).searchParams.get(TOKEN_PARAM) ?? undefined;
    store(token);
    return token;
  } catch {
    return undefined;
  }
}
