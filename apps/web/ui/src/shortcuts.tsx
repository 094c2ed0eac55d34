import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';

/**
 * Keyboard shortcuts, Concourse's where it has them: `?` toggles the help, `/` focuses the dashboard
 * search; on a build `j`/`k` scroll, `gg`/`G` top/bottom, `h`/`l` previous/next build, `T` trigger, `R`
 * rerun, `A` abort. Pages declare theirs with `useShortcuts`; keys typed into a text field are left alone.
 */
export interface Shortcut {
  /** The key as `KeyboardEvent.key` gives it (`?`, `/`, `j`, `G`…), or `gg` for g pressed twice. */
  key: string;
  description: string;
  run: () => void;
}

interface Registry {
  add: (id: number, shortcuts: Shortcut[]) => void;
  remove: (id: number) => void;
  all: () => Shortcut[];
}

const ShortcutContext = createContext<Registry | undefined>(undefined);
let nextId = 1;

export function useShortcuts(shortcuts: Shortcut[]): void {
  const registry = useContext(ShortcutContext);
  const idRef = useRef(0);
  if (idRef.current === 0) idRef.current = nextId++;
  useEffect(() => {
    registry?.add(idRef.current, shortcuts);
  });
  useEffect(() => {
    const id = idRef.current;
    return () => registry?.remove(id);
  }, [registry]);
}

function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName);
}

export function ShortcutProvider({ children }: { children: ReactNode }) {
  const table = useRef(new Map<number, Shortcut[]>());
  const [showHelp, setShowHelp] = useState(false);
  const registry = useRef<Registry>({
    add: (id, shortcuts) => table.current.set(id, shortcuts),
    remove: (id) => table.current.delete(id),
    all: () => [...table.current.values()].flat(),
  });

  useEffect(() => {
    let lastG = 0;
    const onKey = (event: KeyboardEvent) => {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.key === 'Escape') {
        setShowHelp(false);
        if (isTyping(event.target)) (event.target as HTMLElement).blur();
        return;
      }
      if (isTyping(event.target)) return;
      if (event.key === '?') {
        setShowHelp((shown) => !shown);
        event.preventDefault();
        return;
      }
      let key = event.key;
      if (key === 'g') {
        const now = Date.now();
        if (now - lastG < 600) {
          key = 'gg';
          lastG = 0;
        } else {
          lastG = now;
          return;
        }
      }
      const shortcut = registry.current.all().find((s) => s.key === key);
      if (shortcut) {
        event.preventDefault();
        shortcut.run();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  return (
    <ShortcutContext.Provider value={registry.current}>
      {children}
      {showHelp && <KeyboardHelp shortcuts={registry.current.all()} onClose={() => setShowHelp(false)} />}
    </ShortcutContext.Provider>
  );
}

function KeyboardHelp({ shortcuts, onClose }: { shortcuts: Shortcut[]; onClose: () => void }) {
  const rows = [{ key: '?', description: 'hide/show this help' }, ...shortcuts];
  return (
    <div className="keyboard-help" role="dialog" aria-label="keyboard shortcuts" onClick={onClose}>
      <div className="keyboard-help-card" onClick={(e) => e.stopPropagation()}>
        <div className="keyboard-help-title">keyboard shortcuts</div>
        {rows.map((row) => (
          <div className="keyboard-help-line" key={row.key}>
            <span className="keys">
              {row.key === 'gg' ? (
                <>
                  <kbd>g</kbd>
                  <kbd>g</kbd>
                </>
              ) : (
                <kbd>{row.key}</kbd>
              )}
            </span>
            {row.description}
          </div>
        ))}
      </div>
    </div>
  );
}
