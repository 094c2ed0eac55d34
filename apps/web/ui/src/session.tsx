import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { getJson, getJsonOrUndefined, onUnauthorized } from './api/client.js';
import { clearCsrfToken, refreshCsrfToken } from './api/csrf.js';
import type { Info, UserInfo } from './api/types.js';

/**
 * Who is logged in (`GET /api/v1/user`), the server's info, and logging in and out. Logging in is the
 * server's own form at `/sky/login`, which sends the browser back to the page it came from.
 */
export interface Session {
  /** undefined while loading, null when anonymous. */
  user: UserInfo | null | undefined;
  info: Info | undefined;
  loginHref: (returnTo?: string) => string;
  logout: () => Promise<void>;
  /** True when the user may act on the team (any role but viewer), or is an admin. */
  canOperate: (team: string) => boolean;
}

const SessionContext = createContext<Session | undefined>(undefined);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside SessionProvider');
  return session;
}

export function loginHref(
  returnTo = `${window.location.pathname}${window.location.search}${window.location.hash}`,
): string {
  return `/sky/login?redirect_uri=${encodeURIComponent(returnTo)}`;
}

export function SessionProvider({ csrfFromUrl, children }: { csrfFromUrl: boolean; children: ReactNode }) {
  const [user, setUser] = useState<UserInfo | null | undefined>(undefined);
  const [info, setInfo] = useState<Info | undefined>(undefined);

  useEffect(() => {
    let cancelled = false;
    void getJson<Info>('/api/v1/info')
      .then((res) => !cancelled && setInfo(res.body))
      .catch(() => undefined);
    void (async () => {
      try {
        const res = await getJsonOrUndefined<UserInfo>('/api/v1/user');
        if (cancelled) return;
        setUser(res?.body ?? null);
        // The stored token may belong to an older session: take the live one unless it just arrived.
        if (res && !csrfFromUrl) await refreshCsrfToken();
      } catch {
        if (!cancelled) setUser(null);
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [csrfFromUrl]);

  useEffect(
    () =>
      onUnauthorized(() => {
        clearCsrfToken();
        setUser(null);
      }),
    [],
  );

  const logout = useCallback(async () => {
    await fetch('/sky/logout', { credentials: 'same-origin' }).catch(() => undefined);
    clearCsrfToken();
    setUser(null);
  }, []);

  const canOperate = useCallback(
    (team: string) => {
      if (!user) return false;
      if (user.is_admin) return true;
      const roles = user.teams[team] ?? [];
      return roles.some((role) => role !== 'viewer');
    },
    [user],
  );

  return (
    <SessionContext.Provider value={{ user, info, loginHref, logout, canOperate }}>
      {children}
    </SessionContext.Provider>
  );
}
