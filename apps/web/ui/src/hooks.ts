import { useCallback, useEffect, useRef, useState } from 'react';
import { errorMessage } from './api/client.js';

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * Load something and keep it fresh: runs `load` at once, then every `intervalMs` while the tab is visible
 * (Concourse's pages poll the same way); `deps` changing loads again, showing the last data meanwhile (pages
 * about another thing are remounted, see app.tsx). An error keeps the last data.
 */
export function usePolling<T>(
  load: () => Promise<T>,
  intervalMs: number | undefined,
  deps: readonly unknown[],
): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    let cancelled = false;
    let timer: number | undefined;
    const run = async () => {
      try {
        const value = await loadRef.current();
        if (cancelled) return;
        setData(value);
        setError(undefined);
      } catch (err) {
        if (!cancelled) setError(errorMessage(err));
      } finally {
        if (!cancelled) {
          setLoading(false);
          if (intervalMs !== undefined) timer = window.setTimeout(() => void schedule(), intervalMs);
        }
      }
    };
    const schedule = async () => {
      if (document.visibilityState === 'hidden') {
        timer = window.setTimeout(() => void schedule(), intervalMs);
        return;
      }
      await run();
    };
    void run();
    return () => {
      cancelled = true;
      if (timer !== undefined) window.clearTimeout(timer);
    };
  }, [...deps, tick, intervalMs]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

/** The current time in Unix seconds, ticking every second while `live`. */
export function useNow(live: boolean): number {
  const [now, setNow] = useState(() => Date.now() / 1000);
  useEffect(() => {
    if (!live) return;
    const timer = window.setInterval(() => setNow(Date.now() / 1000), 1000);
    return () => window.clearInterval(timer);
  }, [live]);
  return live ? now : Date.now() / 1000;
}

/** Run an action (a mutation) with a busy flag and an error message for the user. */
export function useAction(): {
  busy: boolean;
  error: string | undefined;
  run: (action: () => Promise<unknown>) => Promise<void>;
  clear: () => void;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const run = useCallback(async (action: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    try {
      await action();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run, clear: () => setError(undefined) };
}
