import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { captureCsrfTokenFromUrl } from './api/csrf.js';
import { App } from './app.js';
import { SessionProvider } from './session.js';
import { ShortcutProvider } from './shortcuts.js';
import './styles.css';

// After a login the server sends the browser back with `?csrf_token=`: keep it, and tidy the address bar.
const csrfFromUrl = captureCsrfTokenFromUrl();

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <SessionProvider csrfFromUrl={csrfFromUrl}>
        <ShortcutProvider>
          <App />
        </ShortcutProvider>
      </SessionProvider>
    </StrictMode>,
  );
}
